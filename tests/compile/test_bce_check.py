"""BCELoss refuses probabilities outside [0, 1] in a compiled replay as it does eagerly."""
import warnings

import pytest

import chainrule as cr
from chainrule.errors import DataError


def test_a_replayed_bce_step_still_refuses_an_input_outside_0_1():
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(4, 1), cr.nn.Sigmoid())
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = cr.nn.BCELoss()

    @cr.compile
    def step(x, y, scale):
        loss = loss_fn(model(x) * scale, y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.detach()

    x, y = cr.randn(8, 4), (cr.randn(8, 1) > 0).float()
    one = cr.ones(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(5):
            step(x, y, one)
    assert [p.kind for p in step.plans()] != ["eager"]
    before = [p.detach().numpy().copy() for p in model.parameters()]
    with pytest.raises(DataError, match=r"probabilities in \[0, 1\]"):
        step(x, y, cr.full((1,), 3.0))
    assert all((p.detach().numpy() == b).all() for p, b in zip(model.parameters(), before))
