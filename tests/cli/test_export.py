"""`chainrule export MODEL out.onnx`: heart, digits and Keras model files become ONNX files that reproduce them."""
import json
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import chainrule as cr  # noqa: E402
from chainrule.cli.heart import load_model  # noqa: E402
from chainrule.cli.main import main  # noqa: E402
from chainrule.datasets import load_heart_disease  # noqa: E402
from chainrule.preprocessing import TabularPreprocessor  # noqa: E402


@pytest.fixture(scope="module")
def heart_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("heart")
    assert main(["train", "heart", "--epochs", "3", "--quiet", "--out", str(out)]) == 0
    return out / "model.chainrule"


def test_export_heart_model(heart_path, tmp_path, capsys):
    target = tmp_path / "heart.onnx"
    assert main(["export", str(heart_path), str(target)]) == 0
    out = capsys.readouterr().out
    assert "inputs input (batch, 28)" in out and "onnxruntime reproduces" in out
    proto = onnx.load(str(target))
    onnx.checker.check_model(proto, full_check=True)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["chainrule.format"] == "chainrule.heart-model"
    # the preprocessing travels in the metadata: patients -> inputs -> ONNX Runtime
    pre = TabularPreprocessor.from_dict(json.loads(meta["chainrule.preprocessor"]))
    data = load_heart_disease()
    x = pre.transform(data.data[:40]).astype(np.float32)
    got = ort.InferenceSession(str(target)).run(None, {"input": x})[0]
    model, _, names = load_model(str(heart_path))
    assert json.loads(meta["chainrule.feature_names"]) == names
    np.testing.assert_allclose(got, model(cr.tensor(x)).data, atol=1e-5)


def test_export_keras_model_file(tmp_path, capsys):
    inputs = cr.layers.Input((5,), name="features")
    h = cr.layers.Dense(4, activation="relu")(inputs)
    model = cr.Model(inputs, cr.layers.Dense(2, activation="softmax", name="probs")(h))
    model.save(str(tmp_path / "m.keras"))
    assert main(["export", str(tmp_path / "m.keras"), str(tmp_path / "m.onnx"), "--opset",
                 "18"]) == 0
    assert "outputs probs (batch, 2)" in capsys.readouterr().out
    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert proto.opset_import[0].version == 18


def test_export_errors(heart_path, tmp_path, capsys, monkeypatch):
    cr.save({"format": "something else"}, tmp_path / "other.cr")
    assert main(["export", str(tmp_path / "other.cr"), str(tmp_path / "x.onnx")]) == 2
    assert "not a model file chainrule can export" in capsys.readouterr().err
    assert main(["export", str(heart_path), str(tmp_path / "x.onnx"), "--opset", "3"]) == 2
    assert "opset_version" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "onnx", None)
    monkeypatch.delitem(sys.modules, "chainrule.onnx")
    assert main(["export", str(heart_path), str(tmp_path / "x.onnx")]) == 2
    assert "pip install 'chainrule[onnx]'" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


def test_export_digits_model(tmp_path, capsys):
    from chainrule.training.digits import load_model as load_digits
    assert main(["train", "digits", "--epochs", "1", "--channels", "4", "8", "--quiet",
                 "--out", str(tmp_path)]) == 0
    target = tmp_path / "digits.onnx"
    assert main(["export", str(tmp_path / "model.chainrule"), str(target)]) == 0
    out = capsys.readouterr().out
    assert "inputs image (batch, 1, 8, 8)" in out and "outputs logits (batch, 10)" in out
    assert "onnxruntime reproduces" in out
    proto = onnx.load(str(target))
    onnx.checker.check_model(proto, full_check=True)
    assert {p.key: p.value for p in proto.metadata_props}["chainrule.format"] == \
        "chainrule.digits-model"
    x = np.random.default_rng(1).normal(size=(5, 1, 8, 8)).astype(np.float32)
    got = ort.InferenceSession(str(target)).run(None, {"image": x})[0]
    with cr.no_grad():
        want = load_digits(str(tmp_path / "model.chainrule"))(cr.tensor(x)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
