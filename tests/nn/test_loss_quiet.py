"""``_quiet``: a loss's forward/backward ignores overflow and invalid warnings, keeps every other
setting of the caller's NumPy error state, and leaves that state as it found it."""
import threading
import warnings

import numpy as np

import chainrule as cr
from chainrule.backend import numpy_namespace
from chainrule.nn.functional.loss_common import _quiet


class _Ctx:
    xp = numpy_namespace


@_quiet
def _state_inside(ctx):
    return np.geterr()


def test_quiet_ignores_over_and_invalid_and_keeps_the_rest():
    before = np.geterr()
    inside = _state_inside(_Ctx())
    assert inside == {**before, "over": "ignore", "invalid": "ignore"}
    assert np.geterr() == before
    with np.errstate(divide="raise", under="warn"):
        inside = _state_inside(_Ctx())        # a new caller state: a new quiet state from it
        assert inside == {"divide": "raise", "under": "warn", "over": "ignore",
                          "invalid": "ignore"}
        assert np.geterr()["over"] == before["over"]
    assert _state_inside(_Ctx()) == {**before, "over": "ignore", "invalid": "ignore"}
    assert np.geterr() == before


def test_quiet_restores_the_state_when_the_method_raises():
    before = np.geterr()

    @_quiet
    def boom(ctx):
        raise KeyError("x")

    try:
        boom(_Ctx())
    except KeyError:
        pass
    assert np.geterr() == before


def test_an_overflowing_loss_is_inf_without_a_warning_and_the_caller_state_holds():
    x = cr.tensor(np.array([1e30, -1e30, 3.0], np.float32), requires_grad=True)
    t = cr.tensor(np.array([1.0, 0.0, 1.0], np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise"):
            loss = cr.nn.functional.mse_loss(x, t)
            loss.backward()
            assert np.isinf(loss.item())
            try:
                np.array([1e30], np.float32) * np.float32(1e30)
                raised = False
            except FloatingPointError:
                raised = True
            assert raised, "the caller's over='raise' must hold again after the loss"


def test_quiet_in_threads_sees_each_threads_own_state():
    seen = {}

    def worker(name, mode):
        with np.errstate(divide=mode):
            for _ in range(200):
                got = _state_inside(_Ctx())["divide"]
                if got != mode:
                    seen[name] = got
                    return
        seen.setdefault(name, mode)

    threads = [threading.Thread(target=worker, args=(i, m))
               for i, m in enumerate(["raise", "warn", "ignore", "print"])]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert seen == {0: "raise", 1: "warn", 2: "ignore", 3: "print"}
