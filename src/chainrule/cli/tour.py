"""``chainrule tour``: every figure of the guided tour as a PNG, from one command.

    chainrule tour --out tour                          all fifteen steps
    chainrule tour --out tour --only bce jacobian      just these
"""
import sys
import time

from chainrule.tour import STEPS, make_all, step


def add_arguments(subparsers):
    """Register ``tour`` on the top-level *subparsers*."""
    p = subparsers.add_parser("tour", help="write every figure of the guided tour as PNG "
                                           "(needs matplotlib)")
    p.add_argument("--out", default="tour", help="folder for the PNG files (tour)")
    p.add_argument("--only", nargs="+", metavar="NAME", default=None,
                   help="run only these steps: " + ", ".join(STEPS))
    p.add_argument("--list", action="store_true", help="list the steps and exit")
    return p


def run(args):
    """Write the tour's figures to ``args.out``; returns the exit status."""
    if args.list:
        for name in STEPS:
            print(f"{name:19s} {step(name).TITLE}")
        return 0
    if args.only:
        for name in args.only:
            step(name)   # a ValueError naming the steps, before anything runs
    start = time.perf_counter()

    def done(name, path):
        print(f"{name:19s} {path}", flush=True)

    try:
        paths = make_all(args.out, args.only, on_done=done)
    except ImportError as e:
        print(f"chainrule tour: error: {e}", file=sys.stderr)
        return 1
    print(f"{len(paths)} figures in {args.out} ({time.perf_counter() - start:.1f} s)")
    return 0
