"""Learning-rate schedules: Keras 3's six schedules against their documented formulas over 200
steps, as any optimizer's learning_rate, and saved with a model."""
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.keras.optimizers import schedules

STEPS = range(200)


def _cosine(step, steps, alpha):
    return 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps)) * (1 - alpha) + alpha


def _sgdr(step, lr, first, t_mul, m_mul, alpha):
    """CosineDecayRestarts by walking the periods one by one."""
    start, length, i = 0.0, float(first), 0
    while step >= start + length:
        start, length, i = start + length, length * t_mul, i + 1
    frac = (step - start) / length
    return lr * ((1 - alpha) * 0.5 * m_mul ** i * (1 + math.cos(math.pi * frac)) + alpha)


CASES = [
    (schedules.ExponentialDecay(0.1, 30, 0.5), lambda s: 0.1 * 0.5 ** (s / 30)),
    (schedules.ExponentialDecay(0.1, 30, 0.5, staircase=True), lambda s: 0.1 * 0.5 ** (s // 30)),
    (schedules.InverseTimeDecay(0.1, 10, 0.5), lambda s: 0.1 / (1 + 0.5 * s / 10)),
    (schedules.InverseTimeDecay(0.1, 10, 0.5, staircase=True),
     lambda s: 0.1 / (1 + 0.5 * (s // 10))),
    (schedules.PolynomialDecay(0.1, 150, 0.01, power=0.5),
     lambda s: (0.1 - 0.01) * (1 - min(s, 150) / 150) ** 0.5 + 0.01),
    (schedules.PolynomialDecay(0.1, 60, 0.01, cycle=True),
     lambda s: (0.1 - 0.01) * (1 - s / (60 * max(1, math.ceil(s / 60)))) + 0.01),
    (schedules.PiecewiseConstantDecay([50, 120], [1.0, 0.5, 0.1]),
     lambda s: 1.0 if s <= 50 else 0.5 if s <= 120 else 0.1),
    (schedules.CosineDecay(0.1, 150), lambda s: 0.1 * _cosine(s, 150, 0.0)),
    (schedules.CosineDecay(0.1, 150, alpha=0.2), lambda s: 0.1 * _cosine(s, 150, 0.2)),
    (schedules.CosineDecay(0.0, 100, warmup_target=0.2, warmup_steps=40),
     lambda s: 0.2 * s / 40 if s < 40 else 0.2 * _cosine(s - 40, 100, 0.0)),
    (schedules.CosineDecayRestarts(0.1, 20), lambda s: _sgdr(s, 0.1, 20, 2.0, 1.0, 0.0)),
    (schedules.CosineDecayRestarts(0.1, 20, t_mul=1.0, m_mul=0.8, alpha=0.1),
     lambda s: _sgdr(s, 0.1, 20, 1.0, 0.8, 0.1)),
    (schedules.CosineDecayRestarts(0.1, 15, t_mul=1.5, m_mul=0.5),
     lambda s: _sgdr(s, 0.1, 15, 1.5, 0.5, 0.0)),
]


@pytest.mark.parametrize("schedule, formula", CASES, ids=[repr(c[0])[:60] for c in CASES])
def test_schedule_over_200_steps(schedule, formula):
    got = [schedule(s) for s in STEPS]
    np.testing.assert_allclose(got, [formula(s) for s in STEPS], rtol=1e-9, atol=1e-12)
    again = type(schedule).from_config(schedule.get_config())
    assert [again(s) for s in STEPS] == got
    assert schedules.deserialize(schedules.serialize(schedule)).get_config() == \
        schedule.get_config()


def test_documented_examples_and_defaults():
    assert schedules.PiecewiseConstantDecay([100000, 110000], [1.0, 0.5, 0.1])(100001) == 0.5
    assert schedules.PolynomialDecay(0.1, 100).end_learning_rate == 0.0001
    assert schedules.CosineDecayRestarts(0.1, 10).get_config()["name"] == "SGDRDecay"
    assert schedules.PiecewiseConstantDecay([1], [1.0, 0.5]).name == "PiecewiseConstant"
    with pytest.raises(ValueError, match="decay_steps` must be > 0"):
        schedules.ExponentialDecay(0.1, 0, 0.9)
    with pytest.raises(ValueError, match="1 less than the length of values"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0])


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Nadam", "Adadelta", "Lion"])
def test_optimizers_use_the_schedule_at_every_step(name):
    schedule = schedules.ExponentialDecay(0.1, 3, 0.5)
    w = cr.nn.Parameter(cr.tensor([1.0, -2.0]))
    opt = getattr(cr.keras.optimizers, name)(learning_rate=schedule).build([w])
    seen = []
    for _ in range(6):
        w.grad = cr.tensor([0.5, -0.25])
        seen.append(opt.learning_rate)          # the rate of the next update
        opt.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(seen[-1])
    assert seen == pytest.approx([schedule(s) for s in range(6)])
    assert opt.iterations == 6
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.01


def test_a_schedule_trains_and_is_saved_with_the_model(tmp_path):
    x = np.random.default_rng(0).normal(size=(32, 3))
    y = x @ np.array([[1.0], [-1.0], [0.5]])
    model = cr.Sequential([cr.layers.Input((3,)), cr.layers.Dense(1)])
    schedule = schedules.CosineDecay(0.05, decay_steps=8, warmup_target=0.1, warmup_steps=2)
    model.compile(cr.keras.optimizers.SGD(learning_rate=schedule), "mse")
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert model.optimizer.iterations == 8
    model.save(tmp_path / "m.keras")
    restored = cr.load_model(tmp_path / "m.keras")
    assert isinstance(restored.optimizer._learning_rate, schedules.CosineDecay)
    assert restored.optimizer.iterations == 8
    assert restored.optimizer.learning_rate == schedule(8)
