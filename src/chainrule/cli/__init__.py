"""The ``chainrule`` command line: ``chainrule train heart``, ``chainrule predict``."""
