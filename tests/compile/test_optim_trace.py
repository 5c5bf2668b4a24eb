"""cr.compile traces the optimiser's step into the flat plan: its NumPy calls on the packed
buffers, its per-step scalars (bias corrections, the learning rate) computed at each replay from
the live optimiser state, bit-identical to eager however the rate moves between steps."""
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.compile import CompileWarning

STEPS = 14

OPTIMISERS = {
    "adam": lambda ps: cr.optim.Adam(ps, lr=1e-2),
    "adam-l2-amsgrad-maximize": lambda ps: cr.optim.Adam(ps, lr=1e-2, weight_decay=0.01,
                                                         amsgrad=True, maximize=True),
    "adamw": lambda ps: cr.optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
    "sgd-momentum": lambda ps: cr.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    "sgd-dampening-decay": lambda ps: cr.optim.SGD(ps, lr=0.05, momentum=0.5, dampening=0.1,
                                                   weight_decay=1e-3),
}


def _batches(n=3, batch=16, seed=0):
    rng = np.random.default_rng(seed)
    return [(cr.tensor(rng.standard_normal((batch, 7)).astype(np.float32)),
             cr.tensor((rng.random((batch, 1)) > 0.5).astype(np.float32))) for _ in range(n)]


def _run(opt_fn, compiled, between=None, sched_fn=None, in_step_sched=False):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(7, 5), nn.ReLU(), nn.Linear(5, 1))
    opt = opt_fn(model.parameters())
    sched = sched_fn(opt) if sched_fn else None
    loss_fn = nn.BCEWithLogitsLoss()

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if in_step_sched:
            sched.step()
        return loss.detach()

    if compiled:
        step = cr.compile(step)
    batches, losses = _batches(), []
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for i in range(STEPS):
            losses.append(step(*batches[i % len(batches)])._data.tobytes())
            if between is not None:
                between(i, opt, sched)
    weights = [p._data.tobytes() for p in model.parameters()]
    state = [v._data.tobytes() for s in opt.state.values() for v in s.values()]
    return losses, weights, state, step


def _same_as_eager(opt_fn, **kw):
    eager = _run(opt_fn, False, **kw)
    compiled = _run(opt_fn, True, **kw)
    assert eager[:3] == compiled[:3]
    return compiled[3].plans()[0]


@pytest.mark.parametrize("name", sorted(OPTIMISERS))
def test_the_optimiser_step_is_traced_and_bit_identical(name):
    plan = _same_as_eager(OPTIMISERS[name])
    assert plan.kind == "flat", plan.why_not_flat
    assert len(plan.optims) == 1
    assert "_scalars_0(" in plan.source            # the scalars, computed each replay
    assert "step_0(" not in plan.source and "zero_grad" not in plan.source


def _hand(i, opt, sched):
    for g in opt.param_groups:
        g["lr"] = g["lr"] * (0.5 if i % 2 else 1.7)


def _scheduler_between(i, opt, sched):
    sched.step()


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd-momentum"])
@pytest.mark.parametrize("how", ["hand", "scheduler", "scheduler-in-step"])
def test_a_learning_rate_moving_between_steps_is_read_fresh(name, how):
    if how == "hand":
        kw = {"between": _hand}
    elif how == "scheduler":
        kw = {"between": _scheduler_between,
              "sched_fn": lambda o: cr.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5)}
    else:
        kw = {"in_step_sched": True,
              "sched_fn": lambda o: cr.optim.lr_scheduler.ExponentialLR(o, gamma=0.8)}
    plan = _same_as_eager(OPTIMISERS[name], **kw)
    assert plan.kind == "flat" and len(plan.optims) == 1, plan.why_not_flat


def test_changed_settings_replay_the_array_plan_then_flat_again():
    def between(i, opt, sched):
        if i == 6:
            opt.param_groups[0]["betas"] = (0.8, 0.99)     # a constant of the trace
        if i == 9:
            opt.param_groups[0]["betas"] = (0.9, 0.999)
    plan = _same_as_eager(OPTIMISERS["adam"], between=between)
    assert plan.kind == "flat"


def test_an_optimiser_without_a_scalar_function_stays_one_call():
    plan = _same_as_eager(lambda ps: cr.optim.RMSprop(ps, lr=1e-2))
    assert plan.kind == "flat" and plan.optims == ()
    assert "step_0(" in plan.source


def test_zero_grad_keeping_zeros_stays_a_call():
    cr.manual_seed(0)
    model = nn.Linear(7, 1)
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)

    @cr.compile
    def step(x, y):
        opt.zero_grad(set_to_none=False)
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach()

    for x, y in _batches() * 2:
        step(x, y)
    plan = step.plans()[0]
    assert plan.kind == "flat" and len(plan.optims) == 1
    assert "zero_grad_0(" in plan.source


def test_a_repacked_optimiser_is_traced_again():
    def between(i, opt, sched):
        if i == 7:                            # state replaced: the group is packed anew
            opt.load_state_dict(opt.state_dict())
    eager = _run(OPTIMISERS["adam"], False, between=between)
    compiled = _run(OPTIMISERS["adam"], True, between=between)
    assert eager[:3] == compiled[:3]
    plan = compiled[3].plans()[0]
    assert plan.kind == "flat" and len(plan.optims) == 1 and not plan.stale
    assert compiled[3].cache[next(iter(compiled[3].cache))].retraces == 1
