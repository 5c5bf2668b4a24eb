"""Learning-rate schedules: the same rates as PyTorch's over 50 steps, checkpoints, errors."""
import math
import pickle
import warnings

import numpy as np
import pytest

import chainrule.optim as co
from chainrule.optim import lr_scheduler as S
from chainrule.tensor import Tensor


def _ours(name="SGD", lrs=(0.1, 0.02), **kw):
    groups = [{"params": [Tensor(np.zeros(2), requires_grad=True)], "lr": lr} for lr in lrs]
    return getattr(co, name)(groups, **kw)


def _theirs(name="SGD", lrs=(0.1, 0.02), **kw):
    torch = pytest.importorskip("torch")
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return getattr(torch.optim, name)(groups, **kw)


# (scheduler name, constructor kwargs, optimiser name, optimiser kwargs)
CASES = [
    ("LambdaLR", dict(lr_lambda=lambda e: 0.95 ** e + 0.01 * (e % 3)), "SGD", {}),
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.9 if e % 2 else 1.05), "SGD", {}),
    ("StepLR", dict(step_size=7, gamma=0.5), "SGD", {}),
    ("MultiStepLR", dict(milestones=[3, 10, 10, 25], gamma=0.3), "SGD", {}),
    ("ConstantLR", dict(factor=0.25, total_iters=6), "SGD", {}),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.9, total_iters=12), "SGD", {}),
    ("LinearLR", {}, "SGD", {}),
    ("ExponentialLR", dict(gamma=0.93), "SGD", {}),
    ("PolynomialLR", dict(total_iters=30, power=2.0), "SGD", {}),
    ("CosineAnnealingLR", dict(T_max=13, eta_min=0.001), "SGD", {}),
    ("CosineAnnealingWarmRestarts", dict(T_0=5, T_mult=2, eta_min=0.001), "SGD", {}),
    ("CosineAnnealingWarmRestarts", dict(T_0=7), "SGD", {}),
    ("OneCycleLR", dict(max_lr=[1.0, 0.5], total_steps=50), "SGD", dict(momentum=0.9)),
    ("OneCycleLR", dict(max_lr=0.3, epochs=5, steps_per_epoch=10, anneal_strategy="linear",
                        three_phase=True), "Adam", {}),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=60, cycle_momentum=False, pct_start=0.1),
     "Adam", {}),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4, step_size_down=6), "SGD",
     dict(momentum=0.9)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=5, mode="triangular2"), "Adam", {}),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=0.9,
                      cycle_momentum=False), "SGD", {}),
]


def _hyper(opt):
    """What a schedule may change: each group's lr and momentum (or Adam's betas)."""
    return [(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups]


def _assert_same(a, b, where):
    for (lr, m, betas), (tlr, tm, tbetas) in zip(a, b):
        assert lr == pytest.approx(tlr, rel=1e-13, abs=1e-16), where
        if tm is not None:
            assert m == pytest.approx(tm, rel=1e-13), where
        if tbetas is not None:
            assert tuple(betas) == pytest.approx(tuple(tbetas), rel=1e-13), where


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0] + str(sorted(c[1])))
def test_schedule_matches_torch_over_50_steps(case):
    torch = pytest.importorskip("torch")
    name, kwargs, opt_name, opt_kwargs = case
    opt, topt = _ours(opt_name, **opt_kwargs), _theirs(opt_name, **opt_kwargs)
    sched = getattr(S, name)(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    _assert_same(_hyper(opt), _hyper(topt), "after construction")
    assert [g["initial_lr"] for g in opt.param_groups] == \
        pytest.approx([g["initial_lr"] for g in topt.param_groups])
    steps = 49 if name == "OneCycleLR" else 50
    for t in range(steps):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-13, abs=1e-16)
        _assert_same(_hyper(opt), _hyper(topt), f"step {t + 1}")
        assert sched.last_epoch == tsched.last_epoch


def test_reduce_lr_on_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    metrics = np.concatenate([np.linspace(1, 0.5, 10), 0.5 + 0.01 * rng.random(40)])
    for kw in [dict(patience=2, factor=0.5, min_lr=[0.01, 0.001]),
               dict(mode="max", threshold_mode="abs", threshold=0.01, patience=1, cooldown=2),
               dict(patience=0, factor=0.1, eps=1e-3)]:
        opt, topt = _ours(), _theirs()
        sched = S.ReduceLROnPlateau(opt, **kw)
        tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
        for m in metrics:
            sched.step(m)
            tsched.step(m)
            assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-15)
            assert sched.num_bad_epochs == tsched.num_bad_epochs
            assert sched.best == tsched.best


def test_sequential_and_chained_match_torch():
    torch = pytest.importorskip("torch")
    TS = torch.optim.lr_scheduler
    opt, topt = _ours(), _theirs()
    seq = S.SequentialLR(opt, [S.LinearLR(opt, 0.1, total_iters=5), S.ExponentialLR(opt, 0.9),
                               S.StepLR(opt, 3)], milestones=[5, 12])
    tseq = TS.SequentialLR(topt, [TS.LinearLR(topt, 0.1, total_iters=5),
                                  TS.ExponentialLR(topt, 0.9), TS.StepLR(topt, 3)],
                           milestones=[5, 12])
    assert seq.get_last_lr() == pytest.approx(tseq.get_last_lr())
    for _ in range(30):
        opt.step(), topt.step(), seq.step(), tseq.step()
        assert seq.get_last_lr() == pytest.approx(tseq.get_last_lr(), rel=1e-13)

    opt, topt = _ours(), _theirs()
    ch = S.ChainedScheduler([S.ConstantLR(opt, 0.1, total_iters=3), S.ExponentialLR(opt, 0.9)])
    tch = TS.ChainedScheduler([TS.ConstantLR(topt, 0.1, total_iters=3),
                               TS.ExponentialLR(topt, 0.9)])
    for _ in range(20):
        opt.step(), topt.step(), ch.step(), tch.step()
        assert ch.get_last_lr() == pytest.approx(tch.get_last_lr(), rel=1e-13)


@pytest.mark.parametrize("name, kwargs", [("StepLR", dict(step_size=3, gamma=0.5)),
                                          ("MultiStepLR", dict(milestones=[2, 5])),
                                          ("ExponentialLR", dict(gamma=0.9)),
                                          ("CosineAnnealingLR", dict(T_max=10)),
                                          ("LinearLR", dict(total_iters=4)),
                                          ("ConstantLR", dict(total_iters=4)),
                                          ("PolynomialLR", dict(total_iters=6))])
def test_closed_form_with_explicit_epoch_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    opt, topt = _ours(), _theirs()
    sched = getattr(S, name)(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in [3, 7, 1, 12]:
            sched.step(epoch)
            tsched.step(epoch)
            assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-13)


def test_warm_restarts_with_fractional_epochs_match_torch():
    torch = pytest.importorskip("torch")
    opt, topt = _ours(), _theirs()
    sched = S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2)
    tsched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, T_0=3, T_mult=2)
    for epoch in np.arange(0, 20, 0.25):
        sched.step(float(epoch))
        tsched.step(float(epoch))
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-13)


@pytest.mark.parametrize("case", CASES[:13], ids=lambda c: c[0] + str(sorted(c[1])))
def test_state_dict_round_trip_continues_identically(case):
    name, kwargs, opt_name, opt_kwargs = case
    opt = _ours(opt_name, **opt_kwargs)
    sched = getattr(S, name)(opt, **kwargs)
    for _ in range(17):
        opt.step()
        sched.step()
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    rest = []
    for _ in range(20):
        opt.step()
        sched.step()
        rest.append(sched.get_last_lr())

    opt2 = _ours(opt_name, **opt_kwargs)
    sched2 = getattr(S, name)(opt2, **kwargs)
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(sched_state)
    for expected in rest:
        opt2.step()
        sched2.step()
        assert sched2.get_last_lr() == expected


def test_state_dict_layout_matches_torch():
    torch = pytest.importorskip("torch")
    opt, topt = _ours(), _theirs()
    sched, tsched = S.StepLR(opt, 3), torch.optim.lr_scheduler.StepLR(topt, 3)
    for _ in range(4):
        opt.step(), topt.step(), sched.step(), tsched.step()
    assert sorted(sched.state_dict()) == sorted(tsched.state_dict())
    assert sched.state_dict()["last_epoch"] == 4 and sched.state_dict()["_step_count"] == 5
    lam = S.LambdaLR(_ours(), lambda e: 1.0)
    assert lam.state_dict()["lr_lambdas"] == [None, None]


def test_lambda_objects_state_is_saved():
    class Warmup:
        def __init__(self, n):
            self.n = n

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.n)

    opt = _ours()
    sched = S.LambdaLR(opt, Warmup(4))
    state = sched.state_dict()
    assert state["lr_lambdas"][0] == {"n": 4}
    sched2 = S.LambdaLR(_ours(), Warmup(10))
    sched2.load_state_dict(state)
    assert sched2.lr_lambdas[0].n == 4


def test_scheduler_records_initial_lr_and_resumes():
    opt = _ours()
    S.StepLR(opt, 2)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02]
    fresh = _ours()
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(fresh, 2, last_epoch=4)
    resumed = S.StepLR(opt, 2, gamma=0.5, last_epoch=4)   # initial_lr is there: allowed
    assert resumed.last_epoch == 5


def test_stepping_scheduler_before_optimizer_warns():
    opt = _ours()
    sched = S.ExponentialLR(opt, 0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt = _ours()
    sched = S.ExponentialLR(opt, 0.5)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()


def test_get_lr_outside_step_warns():
    sched = S.StepLR(_ours(), 2)
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()


def test_schedule_state_survives_pickle():
    opt = _ours()
    sched = S.CosineAnnealingLR(opt, T_max=10)
    for _ in range(3):
        opt.step()
        sched.step()
    state = pickle.loads(pickle.dumps(sched.state_dict()))
    assert state["last_epoch"] == 3
    assert state["base_lrs"] == [0.1, 0.02]


@pytest.mark.parametrize("make, error, message", [
    (lambda o: S.StepLR(object(), 2), TypeError, "is not an Optimizer"),
    (lambda o: S.LambdaLR(o, [lambda e: 1.0]), ValueError, "Expected 2 lr_lambdas, but got 1"),
    (lambda o: S.MultiplicativeLR(o, 0.5), TypeError, "lr_lambda should be a function"),
    (lambda o: S.ConstantLR(o, factor=1.5), ValueError, "between 0 and 1"),
    (lambda o: S.LinearLR(o, start_factor=0), ValueError, "greater than 0"),
    (lambda o: S.LinearLR(o, end_factor=2), ValueError, "between 0 and 1"),
    (lambda o: S.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be < 1.0"),
    (lambda o: S.ReduceLROnPlateau(o, mode="up"), ValueError, "mode up is unknown"),
    (lambda o: S.ReduceLROnPlateau(o, threshold_mode="x"), ValueError, "threshold mode x"),
    (lambda o: S.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 min_lrs, got 1"),
    (lambda o: S.OneCycleLR(o, max_lr=0.1), ValueError, "total_steps OR"),
    (lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=0), ValueError, "total_steps"),
    (lambda o: S.OneCycleLR(o, max_lr=[0.1], total_steps=5), ValueError, "same length"),
    (lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=5, pct_start=2.0), ValueError,
     "pct_start"),
    (lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=5, anneal_strategy="x"), ValueError,
     "anneal_strategy"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "positive integer T_0"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), ValueError, "T_mult"),
    (lambda o: S.CyclicLR(o, 0.01, 0.1, mode="x"), ValueError, "mode is invalid"),
    (lambda o: S.SequentialLR(o, [S.StepLR(o, 2)], milestones=[3]), ValueError,
     "one more than the number of milestone"),
    (lambda o: S.SequentialLR(o, [], milestones=[]), ValueError, "at least one scheduler"),
    (lambda o: S.SequentialLR(o, [S.ReduceLROnPlateau(o), S.StepLR(o, 2)], milestones=[3]),
     ValueError, "does not support `ReduceLROnPlateau`"),
    (lambda o: S.ChainedScheduler([S.StepLR(o, 2), S.StepLR(_ours(), 2)]), ValueError,
     "same optimizer"),
])
def test_errors(make, error, message):
    with pytest.raises(error, match=message):
        make(_ours())


def test_one_cycle_refuses_to_step_past_total_steps():
    opt = _ours()
    sched = S.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(2):
        opt.step()
        sched.step()
    opt.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()
        sched.step()


def test_cycle_momentum_needs_momentum():
    opt = _ours("Adagrad")
    with pytest.raises(ValueError, match="optimizer must support momentum"):
        S.OneCycleLR(opt, max_lr=0.1, total_steps=10)
    S.OneCycleLR(_ours("Adagrad"), max_lr=0.1, total_steps=10, cycle_momentum=False)


def test_schedule_drives_the_optimizer_step():
    w = Tensor(np.zeros(1), requires_grad=True)
    opt = co.SGD([w], lr=1.0)
    sched = S.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        w.grad = Tensor(np.ones(1))
        opt.step()
        sched.step()
    np.testing.assert_allclose(w.data, [-(1 + 0.5 + 0.25)])
    assert math.isclose(opt.param_groups[0]["lr"], 0.125)
