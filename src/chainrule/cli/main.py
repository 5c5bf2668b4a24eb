"""``chainrule`` — the command-line entry point and its subcommands."""
import argparse
import sys

from chainrule import distributed
from chainrule.cli import addition, digits, export, heart, plots, predict, tour
from chainrule.errors import ChainruleError


def build_parser():
    parser = argparse.ArgumentParser(
        prog="chainrule", description="chainrule: backpropagation you can read.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    train = sub.add_parser("train",
                           help="train a model (the built-in jobs: heart, addition, digits)")
    train_sub = train.add_subparsers(dest="job", metavar="JOB")
    heart.add_arguments(train_sub.add_parser(
        "heart", help="train the lectures' heart-disease network on the embedded Cleveland data"))
    addition.add_arguments(train_sub.add_parser(
        "addition", help="teach an LSTM (or --model transformer) to add numbers from characters"))
    digits.add_arguments(train_sub.add_parser(
        "digits", help="train a small convnet on the embedded 8x8 handwritten digits"))
    predict.add_arguments(sub.add_parser(
        "predict", help="score new patients (or digit images) with a saved model"))
    export.add_arguments(sub.add_parser("export", help="write a saved model as an ONNX file"))
    plots.add_arguments(sub)
    tour.add_arguments(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train" and getattr(args, "job", None) == "heart":
            return heart.run(args)
        if args.command == "train" and getattr(args, "job", None) == "addition":
            return addition.run(args)
        if args.command == "train" and getattr(args, "job", None) == "digits":
            return digits.run(args)
        if args.command == "predict" and digits.is_model_file(args.model):
            return digits.predict(args)
        if args.command == "predict":
            return predict.run(args)
        if args.command == "export":
            return export.run(args)
        if args.command == "plot":
            return plots.run(args)
        if args.command == "tour":
            return tour.run(args)
    except (ChainruleError, ValueError, OSError) as e:
        print(f"chainrule: error: {e}", file=sys.stderr)
        if distributed.is_distributed():    # the other ranks would wait forever: end them all
            distributed.abort(2)
        return 2
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
