"""Tensors a step makes from constants (cr.zeros/ones/full/eye, nn.LSTM's initial state)
are recorded as calls that make them afresh on each replay: recurrent steps compile,
bit-identical to eager."""
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.compile import CompileWarning


def _compare(make, steps=8):
    runs = []
    for compiled in (False, True):
        cr.manual_seed(0)
        model, step = make()
        if compiled:
            step = cr.compile(step)
        rng = np.random.default_rng(1)
        data = [(cr.tensor(rng.standard_normal((4, 6, 5)).astype(np.float32)),
                 cr.tensor(rng.standard_normal((4, 1)).astype(np.float32))) for _ in range(3)]
        with warnings.catch_warnings():
            warnings.simplefilter("error", CompileWarning)
            losses = [step(*data[i % 3])._data.tobytes() for i in range(steps)]
        runs.append((losses, [p._data.tobytes() for p in model.parameters()], step))
    assert runs[0][:2] == runs[1][:2]
    return runs[1][2]


def _recurrent(cls):
    def make():
        rnn, head = cls(5, 8, batch_first=True), nn.Linear(8, 1)
        model = nn.ModuleList([rnn, head])
        opt = cr.optim.Adam(model.parameters(), lr=1e-2)

        def step(x, y):
            out, _ = rnn(x)                     # the initial state: zeros made in the step
            loss = nn.functional.mse_loss(head(out[:, -1]), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            return loss.detach()
        return model, step
    return make


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_a_recurrent_training_step_compiles_bit_identically(cls):
    step = _compare(_recurrent(cls))
    plan = step.plans()[0]
    assert plan.kind in ("array", "flat")
    assert "make_tensor" in plan.describe()
    assert step.recordings == 2


def test_factories_in_the_step_make_fresh_tensors_each_replay():
    def make():
        lin = nn.Linear(5, 1)
        opt = cr.optim.SGD(lin.parameters(), lr=0.1)

        def step(x, y):
            bias = cr.full((4, 1), 0.25) + cr.ones(4, 1) * cr.full((4, 1), 3.0)
            pred = lin(x[:, 0]) + bias + cr.zeros(4, 1) + cr.eye(4) @ cr.zeros(4, 1)
            loss = nn.functional.mse_loss(pred, y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            return loss.detach(), cr.zeros(2)
        return lin, lambda x, y: step(x, y)[0]
    _compare(make)

    lin = nn.Linear(5, 1)

    @cr.compile
    def made(x):
        return lin(x).detach(), cr.zeros(3)
    outs = [made(cr.ones(2, 5))[1] for _ in range(5)]
    assert len({id(o) for o in outs}) == 5 and len({id(o._data) for o in outs}) == 5
    outs[-1]._data[0] = 7.0                        # each replay's tensor is its own
    assert made(cr.ones(2, 5))[1]._data.tolist() == [0.0, 0.0, 0.0]
