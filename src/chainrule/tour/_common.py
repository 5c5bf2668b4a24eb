"""What every step of the tour shares: where a figure goes, how it is saved, how a step runs alone."""
import argparse
import os
import sys

from chainrule.plot.figure import save_figure


def figure_path(out_dir, name):
    """``out_dir/name``, creating *out_dir* when it does not exist."""
    os.makedirs(out_dir, exist_ok=True)
    return os.path.join(os.fspath(out_dir), name)


def save(fig, out_dir, name):
    """Write *fig* as a PNG named *name* under *out_dir*, close it and return its path."""
    return save_figure(fig, figure_path(out_dir, name))


def main(make, argv=None):
    """``python -m chainrule.tour.<step> [--out DIR]``: run one step and print where it went."""
    doc = (sys.modules[make.__module__].__doc__ or "").strip().splitlines()
    parser = argparse.ArgumentParser(prog=f"python -m {make.__module__}",
                                     description=doc[0] if doc else None)
    parser.add_argument("--out", default="tour", help="folder for the PNG (default: tour)")
    args = parser.parse_args(argv)
    try:
        path = make(args.out)
    except ImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"saved {path}")
    return 0
