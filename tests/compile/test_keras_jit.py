"""Keras-style compile(..., jit_compile=True): fit replays a recorded step, with eager's numbers."""
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.compile import CompileWarning
from chainrule.keras import Model, layers


def _model():
    cr.manual_seed(0)
    inp = layers.Input(shape=(6,))
    h = layers.Dense(8, activation="relu")(inp)
    merged = layers.Add()([layers.Dense(8, activation="relu")(h), layers.Dense(8)(h)])
    return Model(inp, layers.Dense(1)(layers.Dropout(0.25)(merged)))


def _fit(jit, loss, y):
    model = _model()
    model.compile(optimizer="adam", loss=loss, metrics=["mae"], jit_compile=jit)
    x = np.random.default_rng(0).standard_normal((40, 6)).astype(np.float32)
    cr.manual_seed(7)
    hist = model.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=True)
    return model, hist.history


@pytest.mark.parametrize("loss", ["mse", "binary_crossentropy"])
def test_fit_with_jit_compile_matches_eager(loss):
    y = (np.random.default_rng(1).random((40, 1)) > 0.5).astype(np.float32)
    m1, h1 = _fit(False, loss, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        m2, h2 = _fit(True, loss, y)
    assert h1 == h2
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert np.asarray(a._data).tobytes() == np.asarray(b._data).tobytes()
    assert m2._jit_step.recordings == 2 and len(m2._jit_step.plans()) == 1
    plan = m2._jit_step.plans()[0]
    assert plan.kind == "flat", getattr(plan, "why_not_flat", None)


def test_a_loss_that_builds_tensors_from_targets_runs_eagerly_with_one_warning():
    def model():
        cr.manual_seed(0)
        inp = layers.Input(shape=(6,))
        return Model(inp, layers.Dense(3)(layers.Dense(8, activation="relu")(inp)))
    x = np.random.default_rng(0).standard_normal((40, 6)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 3, 40)
    results = []
    for jit in (False, True):
        m = model()
        m.compile(optimizer="sgd", loss=cr.nn.CrossEntropyLoss(), jit_compile=jit)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hist = m.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        ours = [w for w in caught if issubclass(w.category, CompileWarning)]
        assert len(ours) == (1 if jit else 0)
        results.append((hist.history, [np.asarray(t._data).tobytes() for t in m.parameters()]))
    assert results[0] == results[1]
