"""The documentation site builds with ``mkdocs build --strict`` — no warning of any kind: no
broken link, no unresolved cross-reference, no docstring griffe cannot read — and its API
reference renders every public name of the contract.  Skipped where MkDocs is not installed;
CI installs the docs extra, so it runs there."""
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
NEEDED = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m.split(".")[0]) is None for m in NEEDED),
    reason="the docs extra is not installed (pip install -e '.[docs]')")

# Every public name of the API contract, as the id of its entry in the API reference.
T, K, N, O = "chainrule.Tensor.", "chainrule.keras.", "chainrule.nn.", "chainrule.optim."
PUBLIC = (
    ["chainrule.Tensor", "chainrule.factories.tensor", "chainrule.get_default_dtype",
     "chainrule.set_default_dtype", "chainrule.manual_seed", "chainrule.Generator",
     "chainrule.clone", "chainrule.ops.cast.to", "chainrule.ops.indexing.getitem",
     "chainrule.autograd.grad.tensor_backward"]
    + ["chainrule." + n for n in
       "zeros ones full empty arange linspace eye rand randn randint zeros_like ones_like "
       "full_like rand_like randn_like from_numpy".split()]
    + [T + n for n in "shape ndim dtype device grad requires_grad is_leaf detach requires_grad_ "
                      "numpy item tolist size numel zero_ retain_grad".split()]
    + ["chainrule." + n for n in
       "add sub mul div neg abs exp log log1p sqrt sin cos tanh sigmoid relu clamp clip maximum "
       "minimum where pow matmul sum mean var std prod max min amax amin logsumexp norm argmax "
       "argmin softmax log_softmax reshape view flatten unsqueeze squeeze transpose permute expand "
       "cat stack split chunk eq ne lt le gt ge".split()]
    + ["chainrule.no_grad", "chainrule.enable_grad", "chainrule.is_grad_enabled",
       "chainrule.autograd.grad.grad", "chainrule.autograd.Function",
       "chainrule.autograd.Function.forward", "chainrule.autograd.Function.backward",
       "chainrule.autograd.Function.apply", "chainrule.autograd.gradcheck.gradcheck",
       "chainrule.grad", "chainrule.value_and_grad"]
    + ["chainrule.autograd.functional." + n for n in "jacobian hessian vjp jvp hvp".split()]
    + [N + "Parameter", N + "Module"]
    + [N + "Module." + n for n in "forward parameters named_parameters buffers children modules "
                                  "train eval zero_grad state_dict load_state_dict to "
                                  "register_buffer apply".split()]
    + [N + n for n in "Linear ReLU LeakyReLU Sigmoid Tanh GELU Softmax LogSoftmax Dropout "
                      "BatchNorm1d LayerNorm Flatten Identity Embedding Sequential ModuleList "
                      "ModuleDict MSELoss L1Loss HuberLoss BCELoss BCEWithLogitsLoss "
                      "CrossEntropyLoss NLLLoss PinballLoss".split()]
    + [N + "functional." + n for n in "relu linear dropout cross_entropy "
                                      "binary_cross_entropy_with_logits mse_loss one_hot "
                                      "pinball_loss".split()]
    + [N + "init." + n for n in "uniform_ normal_ constant_ zeros_ ones_ xavier_uniform_ "
                                "xavier_normal_ kaiming_uniform_ kaiming_normal_ "
                                "calculate_gain".split()]
    + [N + "utils." + n for n in "clip_grad_norm_ clip_grad_value_ parameters_to_vector "
                                 "vector_to_parameters".split()]
    + [O + "Optimizer"]
    + [O + "Optimizer." + n for n in "zero_grad step state_dict load_state_dict "
                                     "add_param_group".split()]
    + [O + n for n in "SGD Adam AdamW RMSprop Adamax Adagrad LBFGS".split()]
    + [O + "lr_scheduler." + n for n in "LambdaLR StepLR MultiStepLR ExponentialLR "
                                        "CosineAnnealingLR LinearLR OneCycleLR "
                                        "ReduceLROnPlateau".split()]
    + ["chainrule.data." + n for n in "Dataset TensorDataset DataLoader random_split".split()]
    + ["chainrule.datasets.load_heart_disease", "chainrule.save", "chainrule.load"]
    + [K + "layers." + n for n in "Input Dense Dropout BatchNormalization LayerNormalization "
                                  "Activation Normalization Flatten Concatenate Add".split()]
    + [K + "layers.Normalization.adapt", "chainrule.Model", "chainrule.Sequential",
       "chainrule.load_model"]
    + ["chainrule.Model." + n for n in "summary compile fit evaluate predict save get_weights "
                                       "set_weights".split()]
    + [K + "regularizers." + n for n in "L1 L2 L1L2".split()]
    + [K + "callbacks." + n for n in "EarlyStopping ModelCheckpoint LearningRateScheduler "
                                     "ReduceLROnPlateau CSVLogger".split()]
)
DTYPES = ("cr.float32", "cr.float64", "cr.int64", "cr.bool")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the site once, into a temporary folder; fail on any warning."""
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")   # Material's banner, not a build warning
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    log = proc.stdout + proc.stderr
    warnings = [line for line in log.splitlines() if re.match(r"\s*(WARNING|ERROR)\b", line)]
    assert proc.returncode == 0 and not warnings, "mkdocs build --strict failed:\n" + log
    return out


def _ids(site):
    ids = set()
    for page in (site / "api").rglob("*.html"):
        ids.update(re.findall(r'id="(chainrule\.[^"]+)"', page.read_text(encoding="utf-8")))
    return ids


def test_site_builds_strictly(site):
    for page in ("index.html", "getting-started/index.html", "tour/index.html",
                 "autograd/index.html", "migration/index.html", "api/index.html"):
        assert (site / page).is_file(), page


def test_every_public_name_is_in_the_api_reference(site):
    ids = _ids(site)
    missing = [name for name in PUBLIC if name not in ids]
    assert not missing, "public names without an API reference entry: " + ", ".join(missing)
    tensors = (site / "api" / "tensors" / "index.html").read_text(encoding="utf-8")
    assert all(d in tensors for d in DTYPES)


def test_docstring_examples_render_as_code(site):
    """The Griffe extension fences ``>>>`` sessions: none may turn into nested block quotes."""
    for page in (site / "api").rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "<blockquote>\n<blockquote>" not in text, page
        assert "&gt;&gt;&gt;" not in re.sub(r"<code.*?</code>|<pre.*?</pre>", "", text,
                                            flags=re.S), page


def test_tour_page_shows_every_figure(site):
    from chainrule import tour
    page = (ROOT / "docs" / "tour.md").read_text(encoding="utf-8")
    for name in tour.STEPS:
        filename = tour.step(name).FILENAME
        assert f"images/tour/{filename}" in page, filename
        assert (site / "images" / "tour" / filename).is_file(), filename
