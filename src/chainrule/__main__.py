"""``python -m chainrule``: the command line (the same as the ``chainrule`` console script)."""
import sys

from chainrule.cli.main import main

sys.exit(main())
