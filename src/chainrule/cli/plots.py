"""``chainrule plot``: pictures of descent, each one PNG from one subcommand.

    chainrule plot step-sizes        gradient descent on a quartic with four step sizes
    chainrule plot optimizer-paths   GD, momentum, RMSprop and Adam on a surface with a saddle
    chainrule plot landscape         a trained heart-disease network's loss landscape
    chainrule plot optimizer-curves  learning curves of several optimisers on that network
"""
import sys

from chainrule.data import DataLoader, TensorDataset
from chainrule.errors import ConfigError
from chainrule.nn import BCEWithLogitsLoss
from chainrule.optim import Adam
from chainrule.plot.descent import optimizer_paths, step_sizes
from chainrule.plot.landscape import loss_landscape
from chainrule.plot.optimizers import HeartProblem, optimizer_curves
from chainrule.random import Generator, manual_seed
from chainrule.training import train_epoch

DEFAULT_OUT = {"step-sizes": "step-sizes.png", "optimizer-paths": "optimizer-paths.png",
               "landscape": "landscape.png", "optimizer-curves": "optimizer-curves.png"}


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise ConfigError(f"expected a positive integer, got {text}")
    return value


def add_arguments(subparsers):
    """Register ``plot`` and its four subcommands on the top-level *subparsers*."""
    plot = subparsers.add_parser("plot", help="draw pictures of descent as PNG files "
                                              "(needs matplotlib)")
    sub = plot.add_subparsers(dest="plot", metavar="PLOT")
    p = sub.add_parser("step-sizes", help="gradient descent on the quartic x^4 - 3x^2 + x with "
                                          "step sizes too small, right, too large")
    p.add_argument("--steps", type=_positive_int, default=30, help="iterations (30)")
    p = sub.add_parser("optimizer-paths", help="GD, SGD+momentum, RMSprop and Adam on a surface "
                                               "with two basins and a saddle")
    p.add_argument("--steps", type=_positive_int, default=100, help="iterations (100)")
    p = sub.add_parser("landscape", help="the loss landscape of the trained heart-disease network "
                                         "along two filter-normalised directions")
    p.add_argument("--epochs", type=_positive_int, default=30,
                   help="Adam epochs before drawing (30)")
    p.add_argument("--grid", type=_positive_int, default=25, help="grid points per axis (25)")
    p.add_argument("--span", type=float, default=1.0, help="half-width of the grid (1.0)")
    p.add_argument("--seed", type=int, default=0, help="seed of split, weights and directions (0)")
    p = sub.add_parser("optimizer-curves", help="learning curves of several optimisers on the "
                                                "heart-disease network")
    p.add_argument("--epochs", type=_positive_int, default=30, help="epochs per optimiser (30)")
    p.add_argument("--batch-size", type=_positive_int, default=32, help="mini-batch size (32)")
    p.add_argument("--seed", type=int, default=0, help="seed of split, weights and batches (0)")
    for name, p in sub.choices.items():
        p.add_argument("--out", default=DEFAULT_OUT[name],
                       help=f"the PNG file to write ({DEFAULT_OUT[name]})")
    return plot


def _landscape(args):
    if args.grid < 2:
        raise ConfigError(f"--grid must be at least 2, got {args.grid}")
    if not args.span > 0:
        raise ConfigError(f"--span must be positive, got {args.span}")
    problem = HeartProblem(args.seed)
    manual_seed(args.seed)
    model = problem.network()
    loss_fn = BCEWithLogitsLoss()
    opt = Adam(model.parameters(), lr=0.01)
    loader = DataLoader(TensorDataset(problem.x_train, problem.y_train), batch_size=32,
                        shuffle=True, generator=Generator().manual_seed(args.seed))
    for _ in range(args.epochs):
        loss = train_epoch(model, loss_fn, opt, loader)
    print(f"trained the heart-disease network for {args.epochs} epochs (Adam, lr 0.01): "
          f"training loss {loss:.4f}")
    return loss_landscape(model, lambda: loss_fn(model(problem.x_train), problem.y_train),
                          args.out, steps=args.grid, span=args.span,
                          generator=Generator().manual_seed(args.seed + 1),
                          title="heart-disease network: training loss along two random "
                                "filter-normalised directions")


def run(args):
    """Draw the picture named by ``args.plot`` to ``args.out``; returns the exit status."""
    kind = getattr(args, "plot", None)
    if kind not in DEFAULT_OUT:
        print("chainrule plot: choose one of " + ", ".join(DEFAULT_OUT), file=sys.stderr)
        return 2
    try:
        if kind == "step-sizes":
            path = step_sizes(args.out, steps=args.steps)
        elif kind == "optimizer-paths":
            path = optimizer_paths(args.out, steps=args.steps)
        elif kind == "landscape":
            path = _landscape(args)
        else:
            path = optimizer_curves(args.out, epochs=args.epochs, batch_size=args.batch_size,
                                    seed=args.seed)
    except ImportError as e:
        print(f"chainrule plot: error: {e}", file=sys.stderr)
        return 1
    print(f"{kind} saved to {path}")
    return 0
