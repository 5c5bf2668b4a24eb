"""``chainrule plot ...``: each subcommand writes its PNG; without matplotlib it says what to do."""
import argparse
import sys

import pytest

from chainrule.cli import plots


def parse(argv):
    parser = argparse.ArgumentParser(prog="chainrule")
    plots.add_arguments(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


@pytest.mark.parametrize("argv", [["step-sizes", "--steps", "5"],
                                  ["optimizer-paths", "--steps", "10"],
                                  ["landscape", "--epochs", "1", "--grid", "4", "--span", "0.5"],
                                  ["optimizer-curves", "--epochs", "1", "--batch-size", "64"]])
def test_each_subcommand_writes_a_png(argv, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / f"{argv[0]}.png"
    args = parse(["plot", *argv, "--out", str(out)])
    assert args.command == "plot" and args.plot == argv[0]
    assert plots.run(args) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert f"saved to {out}" in capsys.readouterr().out


def test_defaults_and_missing_subcommand(capsys):
    args = parse(["plot", "landscape"])
    assert (args.out, args.epochs, args.grid, args.span, args.seed) == \
        ("landscape.png", 30, 25, 1.0, 0)
    assert plots.run(parse(["plot"])) == 2
    assert "choose one of" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse(["plot", "step-sizes", "--steps", "0"])


def test_without_matplotlib_the_command_fails_clearly(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "x.png"
    assert plots.run(parse(["plot", "step-sizes", "--out", str(out)])) == 1
    assert "pip install" in capsys.readouterr().err
    assert not out.exists()
