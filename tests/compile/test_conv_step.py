"""A convolutional training step records and replays (the window geometry compares equal)."""
import warnings

import chainrule as cr
from chainrule import nn


def _run(compiled):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.Flatten(),
                          nn.Linear(4 * 2 * 2, 10))
    opt = cr.optim.Adam(model.parameters(), 1e-2)

    def step(x, y):
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.detach()

    fn = cr.compile(step) if compiled else step
    x, y = cr.randn(8, 1, 8, 8), cr.randint(0, 10, (8,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # no "ran eagerly" warning
        losses = [fn(x, y).item() for _ in range(12)]
    return fn, losses, [p.detach().numpy().copy() for p in model.parameters()]


def test_a_conv_step_replays_bit_identically_to_eager():
    _, eager, eager_params = _run(False)
    fn, compiled, params = _run(True)
    assert [p.kind for p in fn.plans()] in (["flat"], ["array"])   # recorded, not eager
    assert compiled == eager
    assert all((a == b).all() for a, b in zip(params, eager_params))


def test_windows_compare_by_geometry():
    from chainrule.nn.functional._windows import Windows
    a = Windows((3,), (1,), (1,), (1,), (1,), (8,), (8,))
    assert a == Windows((3,), (1,), (1,), (1,), (1,), (8,), (8,)) and hash(a) == hash(
        Windows((3,), (1,), (1,), (1,), (1,), (8,), (8,)))
    assert a != Windows((3,), (2,), (1,), (1,), (1,), (8,), (4,))
