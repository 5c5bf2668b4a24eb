"""`chainrule ...` (the command line), runnable under mpiexec: python heart_cli.py train heart ..."""
import sys

from chainrule.cli.main import main

sys.exit(main(sys.argv[1:]))
