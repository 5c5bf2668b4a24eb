"""model.summary(): the layer table and the parameter totals."""
import numpy as np
import pytest

from chainrule.keras import Model, Sequential, clear_session, layers


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()


def lines_of(model, **kwargs):
    out = []
    model.summary(print_fn=out.append, **kwargs)
    return out


def row(lines, start):
    found = [ln.split() for ln in lines if ln.strip().startswith(start)]
    assert len(found) == 1, (start, lines)
    return found[0]


def test_lecture_model_summary():
    inputs = layers.Input(shape=(29,), name="input")
    h = layers.Dense(16, activation="relu")(inputs)
    outputs = layers.Dense(1, activation="sigmoid")(h)
    model = Model(inputs, outputs)
    lines = lines_of(model)
    assert lines[0] == 'Model: "functional"'
    assert row(lines, "Layer (type)") == ["Layer", "(type)", "Output", "Shape", "Param", "#"]
    assert row(lines, "input (InputLayer)") == ["input", "(InputLayer)", "(None,", "29)", "0"]
    assert row(lines, "dense (Dense)") == ["dense", "(Dense)", "(None,", "16)", "480"]
    assert row(lines, "dense_1 (Dense)") == ["dense_1", "(Dense)", "(None,", "1)", "17"]
    assert lines[-3:] == ["Total params: 497", "Trainable params: 497", "Non-trainable params: 0"]
    assert "Total params: 497" in lines
    assert not any("Connected to" in ln for ln in lines)  # a plain chain, as Keras prints it


def test_summary_prints_to_stdout(capsys):
    model = Sequential([layers.Input((29,)), layers.Dense(16), layers.Dense(1)], name="mlp")
    assert model.summary() is None
    out = capsys.readouterr().out
    assert out.startswith('Model: "mlp"\n') and "Total params: 497\n" in out


def test_fork_and_merge_summary_has_connections():
    a, b = layers.Input((3,), name="a"), layers.Input((2,), name="b")
    shared = layers.Dense(4, name="shared")
    h = layers.Concatenate(name="join")([shared(a), layers.Dense(4, name="proj")(b)])
    out = layers.Add(name="sum")([shared(layers.Dense(3, name="back")(h)), shared(a)])
    model = Model([a, b], out, name="fork")
    lines = lines_of(model)
    header = row(lines, "Layer (type)")
    assert header[-2:] == ["Connected", "to"]
    assert row(lines, "a (InputLayer)")[-1] == "-"
    assert row(lines, "shared (Dense)")[-1] == "a[0][0]"
    join_at = next(i for i, ln in enumerate(lines) if ln.strip().startswith("join"))
    assert lines[join_at].split()[-1] == "shared[0][0]" and lines[join_at + 1].split() == ["proj[0][0]"]
    sum_at = next(i for i, ln in enumerate(lines) if ln.strip().startswith("sum"))
    assert lines[sum_at].split()[-1] == "shared[1][0]"
    assert lines[sum_at + 1].split() == ["shared[2][0]"]
    assert lines[-3] == f"Total params: {3 * 4 + 4 + 2 * 4 + 4 + 8 * 3 + 3}"


def test_non_trainable_params():
    model = Sequential([layers.Input((5,)), layers.Dense(4), layers.BatchNormalization(),
                        layers.Dense(1, trainable=False)])
    lines = lines_of(model)
    assert row(lines, "batch_normalization (BatchNormalization)")[-1] == "16"
    assert lines[-3:] == ["Total params: 45", "Trainable params: 32", "Non-trainable params: 13"]


def test_unbuilt_sequential_and_line_length():
    model = Sequential([layers.Dense(4), layers.Dense(1)])
    lines = lines_of(model)
    assert row(lines, "dense (Dense)")[2:] == ["?", "0", "(unbuilt)"]
    assert lines[-3] == "Total params: 0"
    model(np.ones((2, 3)))
    lines = lines_of(model, line_length=120)
    assert row(lines, "dense (Dense)")[2:] == ["(None,", "4)", "16"]
    assert len(lines[1]) == 120


def test_nested_model_row_and_expansion():
    inner = Sequential([layers.Dense(4), layers.Dense(2)], name="inner")
    x = layers.Input((3,))
    model = Model(x, layers.Dense(1)(inner(x)))
    lines = lines_of(model)
    assert row(lines, "inner (Sequential)")[2:] == ["(None,", "2)", "26"]
    expanded = lines_of(model, expand_nested=True, show_trainable=True)
    assert any(ln.startswith("   dense (Dense)") for ln in expanded)
    assert row(expanded, "inner (Sequential)")[-1] == "Y"
    assert expanded[-3] == "Total params: 29"
