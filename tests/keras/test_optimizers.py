"""Keras-style optimizers: Keras's defaults, the learning rate in param_groups, PyTorch's steps."""
import numpy as np
import pytest

from chainrule import optim
from chainrule.keras import optimizers
from chainrule.nn import Parameter
from chainrule.tensor import Tensor

torch = pytest.importorskip("torch")


def params(seed=0):
    rng = np.random.default_rng(seed)
    return [Parameter(Tensor(rng.normal(size=(3, 2)))), Parameter(Tensor(rng.normal(size=2)))]


def set_grads(ps, seed):
    rng = np.random.default_rng(100 + seed)
    for p in ps:
        p.grad = Tensor(rng.normal(size=p.shape))


@pytest.mark.parametrize("name, cls, expected", [
    ("adam", optim.Adam, dict(lr=0.001, betas=(0.9, 0.999), eps=1e-7, amsgrad=False)),
    ("sgd", optim.SGD, dict(lr=0.01, momentum=0.0, nesterov=False)),
    ("rmsprop", optim.RMSprop, dict(lr=0.001, alpha=0.9, eps=1e-7, momentum=0.0)),
    ("adamw", optim.AdamW, dict(lr=0.001, weight_decay=0.004, eps=1e-7)),
    ("adagrad", optim.Adagrad, dict(lr=0.001, initial_accumulator_value=0.1, eps=1e-7)),
    ("adamax", optim.Adamax, dict(lr=0.001, betas=(0.9, 0.999), eps=1e-7)),
])
def test_names_build_cr_optim_with_keras_defaults(name, cls, expected):
    opt = optimizers.get(name)
    assert opt.learning_rate == expected["lr"]
    opt.build(params())
    assert type(opt.optimizer) is cls
    group = opt.param_groups[0]
    for k, v in expected.items():
        assert group[k] == v, k
    assert optimizers.get(name.upper()).learning_rate == expected["lr"]   # names ignore case


@pytest.mark.parametrize("name, torch_make", [
    ("adam", lambda p: torch.optim.Adam(p, lr=1e-3, eps=1e-7)),
    ("sgd", lambda p: torch.optim.SGD(p, lr=1e-2)),
    ("rmsprop", lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-7)),
    ("adamw", lambda p: torch.optim.AdamW(p, lr=1e-3, eps=1e-7, weight_decay=0.004)),
    ("adagrad", lambda p: torch.optim.Adagrad(p, lr=1e-3, eps=1e-7,
                                              initial_accumulator_value=0.1)),
    ("adamax", lambda p: torch.optim.Adamax(p, lr=1e-3, eps=1e-7)),
])
def test_steps_are_pytorchs(name, torch_make):
    ours = params()
    theirs = [torch.tensor(p._data.copy(), requires_grad=True) for p in ours]
    opt, ref = optimizers.get(name).build(ours), torch_make(theirs)
    for step in range(3):
        set_grads(ours, step)
        for p, q in zip(ours, theirs):
            q.grad = torch.tensor(p.grad._data.copy())
        opt.step()
        ref.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p._data, q.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert opt.iterations == 3


def test_learning_rate_is_the_param_groups_lr():
    opt = optimizers.Adam(learning_rate=0.01)
    opt.build(params())
    opt.optimizer.add_param_group({"params": [Parameter(Tensor(np.zeros(2)))], "lr": 0.5})
    assert opt.learning_rate == 0.01
    opt.learning_rate = 0.002
    assert [g["lr"] for g in opt.param_groups] == [0.002, 0.002]
    opt.param_groups[0]["lr"] = 0.3            # a PyTorch scheduler writes here
    assert opt.learning_rate == 0.3
    with pytest.raises(ValueError, match="learning_rate must be a non-negative float"):
        opt.learning_rate = -1.0


def test_decoupled_weight_decay_and_clipping():
    p = Parameter(Tensor(np.array([1.0, -2.0])))
    opt = optimizers.SGD(learning_rate=0.1, weight_decay=0.5).build([p])
    p.grad = Tensor(np.array([1.0, 1.0]))
    opt.step()               # θ ← θ(1 − lr·λ) − lr·g
    np.testing.assert_allclose(p._data, [1.0 * 0.95 - 0.1, -2.0 * 0.95 - 0.1])

    p = Parameter(Tensor(np.array([0.0, 0.0])))
    opt = optimizers.SGD(learning_rate=1.0, clipnorm=1.0).build([p])
    p.grad = Tensor(np.array([3.0, 4.0]))
    opt.step()
    np.testing.assert_allclose(p._data, [-0.6, -0.8], rtol=1e-5)

    p = Parameter(Tensor(np.array([0.0, 0.0])))
    opt = optimizers.SGD(learning_rate=1.0, clipvalue=0.5).build([p])
    p.grad = Tensor(np.array([3.0, -0.25]))
    opt.step()
    np.testing.assert_allclose(p._data, [-0.5, 0.25])
    with pytest.raises(ValueError, match="Only one of"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)


def test_cr_optim_instances_and_classes_are_accepted():
    ps = params()
    inner = optim.SGD(ps, lr=0.3)
    opt = optimizers.get(inner).build(params(1))     # already built: kept as given
    assert opt.optimizer is inner and opt.learning_rate == 0.3
    opt = optimizers.get(optim.RMSprop).build(ps)
    assert type(opt.optimizer) is optim.RMSprop and opt.learning_rate == 0.01  # torch default
    custom = optimizers.Adam(learning_rate=0.05)
    assert optimizers.get(custom) is custom
    assert isinstance(optimizers.get(optimizers.Adamax), optimizers.Adamax)


def test_errors():
    with pytest.raises(ValueError, match="Did you mean 'adam'"):
        optimizers.get("adm")
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier"):
        optimizers.get(3)
    with pytest.raises(RuntimeError, match="not built yet"):
        optimizers.Adam().step()
    with pytest.raises(ValueError, match="no trainable parameters"):
        optimizers.Adam().build([Tensor(np.zeros(2))])
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.Adam(learning_rate="fast")
