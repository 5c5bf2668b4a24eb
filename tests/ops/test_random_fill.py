"""Random draws into tensors: x.normal_() and its family, cr.bernoulli/multinomial/normal/poisson."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.backend.cuda import use_standin
from chainrule.errors import (ArgumentTypeError, AutogradError, ChainruleError, ConfigError,
                              DataError, DTypeError, ShapeError)

N = 200_000


def big(dtype=cr.float64):
    return cr.zeros(N, dtype=dtype)


@pytest.mark.parametrize("fill, mean, std", [
    (lambda x: x.normal_(2.0, 0.5), 2.0, 0.5),
    (lambda x: x.uniform_(-1.0, 3.0), 1.0, 4 / 12 ** 0.5),
    (lambda x: x.exponential_(4.0), 0.25, 0.25),
    (lambda x: x.log_normal_(0.0, 0.25), np.exp(0.25 ** 2 / 2),
     ((np.exp(0.25 ** 2) - 1) * np.exp(0.25 ** 2)) ** 0.5),
    (lambda x: x.geometric_(0.25), 4.0, (0.75 / 0.25 ** 2) ** 0.5),
    (lambda x: x.bernoulli_(0.3), 0.3, (0.3 * 0.7) ** 0.5),
    (lambda x: x.random_(10), 4.5, ((100 - 1) / 12) ** 0.5),
], ids=["normal_", "uniform_", "exponential_", "log_normal_", "geometric_", "bernoulli_",
        "random_"])
def test_in_place_draws_have_the_distributions_moments(fill, mean, std):
    cr.manual_seed(0)
    x = big()
    out = fill(x)
    assert out is x and x.dtype == cr.float64 and x._version == 1
    a = x.numpy()
    assert abs(a.mean() - mean) < 5 * std / N ** 0.5 + 1e-12
    assert abs(a.std() - std) < 0.02 * std


def test_ranges_and_supports():
    cr.manual_seed(1)
    u = big().uniform_(2.0, 5.0).numpy()
    assert u.min() >= 2.0 and u.max() < 5.0
    r = big().random_(3, 7).numpy()
    assert set(np.unique(r)) == {3.0, 4.0, 5.0, 6.0}
    assert set(np.unique(big().bernoulli_(0.5).numpy())) == {0.0, 1.0}
    assert big().geometric_(0.5).numpy().min() == 1.0
    c = big().cauchy_(1.0, 2.0).numpy()
    assert abs(np.median(c) - 1.0) < 0.05   # the Cauchy has no mean: its median is the location
    ints = cr.zeros(1000, dtype=cr.int64).random_()
    assert ints.dtype == cr.int64 and int(ints.min()) >= 0
    flags = cr.zeros(1000, dtype=cr.bool).random_()
    assert set(np.unique(flags.numpy())) == {False, True}
    f32 = cr.zeros(1000).random_().numpy()
    assert f32.dtype == np.float32 and f32.max() <= 2 ** 24 and f32.min() >= 0


def test_random_takes_from_by_keyword_as_pytorch():
    cr.manual_seed(2)
    x = cr.zeros(500).random_(**{"from": 5}, to=8)
    assert set(np.unique(x.numpy())) == {5.0, 6.0, 7.0}
    y = cr.zeros(500).uniform_(**{"from": -2.0}, to=-1.0)
    assert y.numpy().min() >= -2.0 and y.numpy().max() < -1.0


def test_a_generator_makes_the_draws_reproducible_and_the_default_stream_is_untouched():
    g = cr.Generator().manual_seed(5)
    a = cr.zeros(6).normal_(generator=g)
    g.manual_seed(5)
    b = cr.zeros(6).normal_(generator=g)
    assert cr.equal(a, b)
    cr.manual_seed(3)
    first = cr.zeros(4).uniform_()
    cr.manual_seed(3)
    cr.zeros(4).normal_(generator=cr.Generator().manual_seed(9))
    assert cr.equal(cr.zeros(4).uniform_(), first)


def test_bernoulli_with_a_tensor_of_probabilities():
    cr.manual_seed(4)
    p = cr.tensor([0.0, 1.0, 0.5]).reshape(3, 1).expand(3, 20000).contiguous()
    draws = cr.bernoulli(p)
    assert draws.shape == (3, 20000) and draws.dtype == cr.float32
    rows = draws.numpy().mean(axis=1)
    assert rows[0] == 0.0 and rows[1] == 1.0 and abs(rows[2] - 0.5) < 0.02
    x = cr.zeros(3, 4).bernoulli_(cr.tensor([0.0, 1.0, 0.0, 1.0]))
    assert x.numpy().tolist() == [[0.0, 1.0, 0.0, 1.0]] * 3
    assert cr.bernoulli(cr.zeros(5), p=1.0).numpy().tolist() == [1.0] * 5


def test_multinomial_with_and_without_replacement():
    cr.manual_seed(6)
    w = cr.tensor([[0.0, 1.0, 3.0], [1.0, 1.0, 0.0]])
    draws = cr.multinomial(w, 20000, replacement=True)
    assert draws.shape == (2, 20000) and draws.dtype == cr.int64
    counts = np.bincount(draws.numpy()[0], minlength=3) / 20000
    assert counts[0] == 0 and abs(counts[2] - 0.75) < 0.02
    assert set(np.unique(draws.numpy()[1])) == {0, 1}
    once = cr.multinomial(cr.ones(10), 10)   # without replacement: a permutation
    assert sorted(once.tolist()) == list(range(10))
    assert w.multinomial(1).shape == (2, 1)


def test_normal_and_poisson_functions():
    cr.manual_seed(7)
    mean = cr.tensor([0.0, 100.0]).reshape(2, 1).expand(2, 20000).contiguous()
    draws = cr.normal(mean, 2.0).numpy()
    assert draws.shape == (2, 20000) and abs(draws[1].mean() - 100.0) < 0.1
    assert abs(draws[0].std() - 2.0) < 0.05
    std = cr.tensor([1.0, 3.0]).reshape(2, 1)
    both = cr.normal(cr.zeros(2, 20000, dtype=cr.float64), std)
    assert both.dtype == cr.float64 and abs(both.numpy()[1].std() - 3.0) < 0.1
    plain = cr.normal(1.0, 0.0, size=(3,))
    assert plain.tolist() == [1.0, 1.0, 1.0] and plain.dtype == cr.float32
    rates = cr.full((20000,), 4.0)
    counts = cr.poisson(rates).numpy()
    assert abs(counts.mean() - 4.0) < 0.1 and counts.dtype == np.float32


def test_draws_carry_no_history_and_follow_the_in_place_rules():
    w = cr.nn.Parameter(cr.zeros(3))
    with pytest.raises(AutogradError, match="leaf tensor that requires grad"):
        w.normal_()
    with cr.no_grad():
        w.normal_()
    assert w._version == 1 and w.requires_grad and w.grad_fn is None
    y = w * 2
    with pytest.raises(AutogradError, match="inside the graph"):
        y.uniform_()
    assert cr.bernoulli(cr.full((3,), 0.5, requires_grad=True)).requires_grad is False


@pytest.mark.parametrize("call, error, match", [
    (lambda: cr.zeros(3).normal_(0.0, -1.0), ConfigError, "std >= 0.0"),
    (lambda: cr.zeros(3).uniform_(2.0, 1.0), ConfigError, "from=2.0 > to=1.0"),
    (lambda: cr.zeros(3).exponential_(0.0), ConfigError, "lambda > 0.0"),
    (lambda: cr.zeros(3).geometric_(1.5), ConfigError, "p to be in"),
    (lambda: cr.zeros(3).bernoulli_(1.5), ConfigError, "0 <= p <= 1"),
    (lambda: cr.zeros(3).bernoulli_(cr.zeros(4)), ShapeError, "cannot be broadcast"),
    (lambda: cr.zeros(3).random_(5, 2), ConfigError, "less than 'to'"),
    (lambda: cr.zeros(3).random_(1.5), ArgumentTypeError, "to must be an int"),
    (lambda: cr.zeros(3, dtype=cr.int64).normal_(), DTypeError, "floating point"),
    (lambda: cr.zeros(3).normal_("0"), ArgumentTypeError, "mean must be a number"),
    (lambda: cr.zeros(3).normal_(float("nan")), ConfigError, "finite"),
    (lambda: cr.zeros(3).uniform_(too=1), ArgumentTypeError, "unexpected keyword"),
    (lambda: cr.multinomial(cr.tensor([1.0, -1.0]), 1), DataError, "element < 0"),
    (lambda: cr.multinomial(cr.tensor([1.0, 0.0]), 2), DataError, "not enough non-zero"),
    (lambda: cr.multinomial(cr.tensor([1.0, 1.0]), 3), ConfigError, "without replacement"),
    (lambda: cr.multinomial(cr.zeros(2, 2), 1, True), DataError, "row 0"),
    (lambda: cr.multinomial(cr.ones(2, 2, 2), 1), ShapeError, "1 or 2 dim"),
    (lambda: cr.multinomial(cr.ones(2), 0), ConfigError, "n_sample <= 0"),
    (lambda: cr.normal(0.0, 1.0), ArgumentTypeError, "give a size"),
    (lambda: cr.normal(cr.zeros(2), cr.ones(3)), ShapeError, "do not broadcast"),
    (lambda: cr.poisson(cr.tensor([-1.0])), DataError, ">= 0"),
    (lambda: cr.bernoulli([0.5]), ArgumentTypeError, "expected a cr.Tensor"),
])
def test_bad_arguments_are_refused_and_the_tensor_is_unchanged(call, error, match):
    with pytest.raises(error, match=match) as e:
        call()
    assert isinstance(e.value, ChainruleError)


def test_a_refused_fill_leaves_the_tensor_as_it_was():
    x = cr.ones(3)
    with pytest.raises(ConfigError):
        x.normal_(0.0, -1.0)
    assert x.tolist() == [1.0, 1.0, 1.0] and x._version == 0


def test_draws_on_the_device_are_the_hosts_numbers():
    with use_standin():
        cr.manual_seed(8)
        d = cr.zeros(5, device="cuda").normal_()
        m = cr.multinomial(cr.ones(4, device="cuda"), 4)
        b = cr.bernoulli(cr.full((5,), 0.5, device="cuda"))
        assert d.device.type == "cuda" and m.device.type == "cuda" and b.device.type == "cuda"
        cr.manual_seed(8)
        h = cr.zeros(5).normal_()
        assert cr.equal(d.cpu(), h)
        w = cr.zeros(4, 3, device="cuda")
        cr.nn.init.xavier_uniform_(w)   # nn.init writes into device tensors too
        assert w.device.type == "cuda" and float(w.abs().sum().cpu()) > 0


def test_pytorch_habit_weight_data_normal_():
    torch = pytest.importorskip("torch")
    lin = cr.nn.Linear(50, 40)
    with cr.no_grad():
        lin.weight.normal_(0.0, 0.02)
        lin.bias.zero_()
    ref = torch.nn.Linear(50, 40)
    with torch.no_grad():
        ref.weight.normal_(0.0, 0.02)
    assert abs(float(lin.weight.std()) - float(ref.weight.detach().std())) < 0.003
    assert float(lin.bias.abs().sum()) == 0.0


def test_contiguous_is_the_tensor_itself_or_a_connected_copy():
    x = cr.arange(6.0, requires_grad=True)
    y = x.reshape(2, 3)
    assert y.is_contiguous() and y.contiguous() is y
    t = y.t()
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous() and c.tolist() == t.tolist() and c.grad_fn is not None
    (c * cr.arange(6.0).reshape(3, 2)).sum().backward()
    assert x.grad.tolist() == [0.0, 2.0, 4.0, 1.0, 3.0, 5.0]
    with pytest.raises(ConfigError, match="memory_format"):
        y.contiguous(memory_format="channels_last")
