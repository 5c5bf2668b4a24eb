"""One validator per optimiser: the constructor, ``load_state_dict`` and ``cr.load_checkpoint``
refuse the same hyperparameters with the same message (an Adam beta of 1e308 or an infinite lr no
longer loads and then fails at the next step with a bare OverflowError)."""
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.checkpoint import load_checkpoint, save_checkpoint
from chainrule.errors import CheckpointError, ConfigError

INF, NAN = math.inf, math.nan

CASES = [
    (cr.optim.Adam, "lr", INF, "Invalid learning rate: inf"),
    (cr.optim.Adam, "lr", -1.0, "Invalid learning rate: -1.0"),
    (cr.optim.Adam, "betas", (1e308, 0.999), "Invalid beta parameter at index 0: 1e+308"),
    (cr.optim.Adam, "betas", (0.9, NAN), "Invalid beta parameter at index 1: nan"),
    (cr.optim.Adam, "eps", INF, "Invalid epsilon value: inf"),
    (cr.optim.AdamW, "weight_decay", INF, "Invalid weight_decay value: inf"),
    (cr.optim.Adamax, "lr", NAN, "Invalid learning rate: nan"),
    (cr.optim.SGD, "lr", INF, "Invalid learning rate: inf"),
    (cr.optim.SGD, "momentum", -0.5, "Invalid momentum value: -0.5"),
    (cr.optim.RMSprop, "alpha", INF, "Invalid alpha value: inf"),
    (cr.optim.Adagrad, "lr_decay", INF, "Invalid lr_decay value: inf"),
    (cr.optim.LBFGS, "history_size", 0, "Invalid history_size value: 0"),
]
IDS = [f"{c[0].__name__}-{c[1]}-{c[2]}" for c in CASES]


def _param():
    return cr.nn.Parameter(cr.tensor([1.0, -2.0, 3.0]))


@pytest.mark.parametrize("cls, key, value, message", CASES, ids=IDS)
def test_the_constructor_and_the_validator_refuse_alike(cls, key, value, message):
    with pytest.raises(ConfigError) as built:
        cls([_param()], **{key: value})
    assert str(built.value) == message
    group = dict(cls([_param()]).defaults, **{key: value})
    with pytest.raises(ConfigError) as checked:
        cls.check_hyperparameters(group)
    assert str(checked.value) == message


@pytest.mark.parametrize("cls, key, value, message", CASES, ids=IDS)
def test_load_state_dict_refuses_what_the_constructor_refuses_and_changes_nothing(cls, key, value,
                                                                                 message):
    p = _param()
    opt = cls([p])
    state = opt.state_dict()
    state["param_groups"][0][key] = value
    before = opt.state_dict()
    with pytest.raises(CheckpointError, match=r"param_groups\[0\]: " + message.replace(
            "+", r"\+").replace(".", r"\.")):
        opt.load_state_dict(state)
    assert opt.state_dict()["param_groups"] == before["param_groups"]


def test_a_refused_adam_checkpoint_leaves_a_working_optimizer(tmp_path):
    """The probe's case: Adam betas (1e308, 0.999) in a checkpoint used to load, and the next
    step raised a bare OverflowError."""
    model = cr.nn.Linear(3, 1)
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    model(cr.ones(2, 3)).sum().backward()
    opt.step()
    path = tmp_path / "ckpt.cr"
    save_checkpoint(path, model, opt, epoch=1)
    obj = cr.load(path)
    obj["optimizer"]["param_groups"][0]["betas"] = (1e308, 0.999)
    cr.save(obj, path)
    weights = [p.detach().numpy().copy() for p in model.parameters()]
    with pytest.raises(CheckpointError, match=r"Invalid beta parameter at index 0: 1e\+308"):
        load_checkpoint(path, model, opt)
    assert all(np.array_equal(w, p.detach().numpy()) for w, p in zip(weights, model.parameters()))
    opt.zero_grad()
    model(cr.ones(2, 3)).sum().backward()
    opt.step()
    assert all(np.isfinite(p.detach().numpy()).all() for p in model.parameters())


def test_valid_settings_still_load_and_betas_come_back_as_a_tuple():
    opt = cr.optim.Adam([_param()], lr=0.5, betas=[0.8, 0.9])
    assert opt.defaults["betas"] == (0.8, 0.9)
    state = opt.state_dict()
    state["param_groups"][0]["betas"] = [0.7, 0.95]    # a list, as JSON would give it
    opt.load_state_dict(state)
    assert opt.param_groups[0]["betas"] == (0.7, 0.95)
