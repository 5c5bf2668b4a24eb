"""`chainrule train heart` refuses non-finite or absurd settings up front, and a run whose loss
stops being finite ends with an error naming the epoch and batch — never with a saved NaN model.
Every case runs the real command line in a subprocess."""
import subprocess
import sys
import textwrap

import pytest

GOOD = b"a model trained earlier\n"


def _run(args, code=None, timeout=120):
    cmd = [sys.executable, "-m", "chainrule"] if code is None else [sys.executable, "-c", code]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def previous_run(tmp_path):
    """An output folder holding an earlier run's model file, which must survive."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.chainrule").write_bytes(GOOD)
    return out


@pytest.mark.parametrize("flag, value, message", [
    ("--lr", "inf", "--lr must be a finite learning rate no larger than 10, got inf"),
    ("--lr", "1e300", "--lr must be a finite learning rate no larger than 10, got 1e+300"),
    ("--lr", "nan", "--lr must be positive, got nan"),
    ("--lr", "-inf", "--lr must be positive, got -inf"),
    ("--lr", "11", "--lr must be a finite learning rate no larger than 10"),
    ("--hidden", "1000000000", "--hidden must be at most 65536"),
    ("--test-size", "1.5", "--test-size must be a fraction between 0 and 1"),
    ("--val-size", "nan", "--val-size must be a fraction between 0 and 1"),
    ("--epochs", "0", "--epochs must be positive"),
], ids=["lr-inf", "lr-1e300", "lr-nan", "lr-minus-inf", "lr-11", "hidden-1e9", "test-size-1.5",
        "val-size-nan", "epochs-0"])
def test_absurd_settings_are_refused_before_anything_runs(previous_run, flag, value, message):
    proc = _run(["train", "heart", "--quiet", "--epochs", "2", "--out", str(previous_run),
                 f"{flag}={value}"])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert sorted(p.name for p in previous_run.iterdir()) == ["model.chainrule"]
    assert (previous_run / "model.chainrule").read_bytes() == GOOD


# The up-front check stops --lr 1e300; lift it to reach the guard inside training.
DIVERGE = textwrap.dedent("""
    import sys
    import chainrule.cli.heart as heart
    from chainrule.cli.main import main
    heart.MAX_LR = float("inf")
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_diverging_run_stops_naming_epoch_and_batch_and_keeps_the_old_model(previous_run,
                                                                              optimizer):
    proc = _run(["train", "heart", "--quiet", "--epochs", "3", "--lr", "1e300", "--optimizer",
                 optimizer, "--out", str(previous_run)], code=DIVERGE)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "chainrule: error: training diverged: the loss became nan at epoch 1/3, batch 2/7" \
        in proc.stderr, proc.stderr
    assert "nothing was saved" in proc.stderr and "test accuracy" not in proc.stdout
    assert sorted(p.name for p in previous_run.iterdir()) == ["model.chainrule"]
    assert (previous_run / "model.chainrule").read_bytes() == GOOD


def test_a_sane_run_still_replaces_the_old_model(previous_run):
    proc = _run(["train", "heart", "--quiet", "--epochs", "2", "--lr", "0.01", "--out",
                 str(previous_run)])
    assert proc.returncode == 0, proc.stderr
    assert (previous_run / "model.chainrule").read_bytes() != GOOD
    assert (previous_run / "history.json").exists()
