"""vmap's randomness='error' | 'same' | 'different' for dropout and the random factories, with
PyTorch's semantics (torch.func.vmap)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import random as cr_random
from chainrule.func import VmapError

F = cr.nn.functional
V = cr.func.vmap

RANDOM_OPS = [
    ("cr.rand", lambda m, a: a + m.rand(3)),
    ("cr.randn", lambda m, a: a + m.randn(3)),
    ("cr.rand_like", lambda m, a: m.rand_like(a)),
    ("cr.randn_like", lambda m, a: m.randn_like(a)),
    ("cr.randint", lambda m, a: a + m.randint(0, 5, (3,))),
    ("cr.randperm", lambda m, a: a + m.randperm(3)),
    ("dropout", lambda m, a: m.nn.functional.dropout(a, 0.5)),
]


@pytest.mark.parametrize("name,fn", RANDOM_OPS, ids=[r[0] for r in RANDOM_OPS])
def test_error_mode_names_the_op_as_torch_raises(name, fn):
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="randomness error mode"):
        torch.func.vmap(lambda a: fn(torch, a))(torch.ones(4, 3))
    with pytest.raises(VmapError, match=f"random operation \\({name}\\) while in randomness "
                                        f"error mode"):
        V(lambda a: fn(cr, a))(cr.ones(4, 3))
    assert type(cr_random.default_generator.rng) is np.random.Generator    # put back


def test_dropout_without_randomness_needs_no_flag():
    x = cr.ones(4, 3)
    assert V(lambda a: F.dropout(a, 0.5, training=False))(x).tolist() == x.tolist()
    assert V(lambda a: F.dropout(a, 0.0))(x).tolist() == x.tolist()


@pytest.mark.parametrize("name,fn", RANDOM_OPS, ids=[r[0] for r in RANDOM_OPS])
def test_same_draws_once_for_the_batch(name, fn):
    x = cr.zeros(4, 3)
    cr.manual_seed(7)
    got = V(lambda a: fn(cr, a), randomness="same")(x).numpy()
    assert (got == got[0]).all()
    if name != "dropout":                # one example's draw, as outside vmap
        cr.manual_seed(7)
        np.testing.assert_array_equal(got[0], fn(cr, cr.zeros(3)).numpy())


@pytest.mark.parametrize("name,fn", RANDOM_OPS, ids=[r[0] for r in RANDOM_OPS])
def test_different_draws_per_example(name, fn):
    x = cr.zeros(6, 3) + (1.0 if name == "dropout" else 0.0)
    cr.manual_seed(3)
    got = V(lambda a: fn(cr, a), randomness="different")(x).numpy()
    assert got.shape == (6, 3)
    assert len({tuple(r) for r in got}) > 1
    if name == "dropout":
        assert set(np.unique(got)) <= {0.0, 2.0}


def test_different_factory_draw_is_one_batched_draw():
    cr.manual_seed(11)
    got = V(lambda a: a + cr.randn(2, dtype=cr.float64), randomness="different")(
        cr.zeros(5, 2, dtype=cr.float64))
    cr.manual_seed(11)
    np.testing.assert_array_equal(got.numpy(), cr.randn(5, 2, dtype=cr.float64).numpy())


def test_dropout_gradient_per_example_uses_its_mask():
    x = cr.ones(5, 8, dtype=cr.float64)

    def f(a):
        return (F.dropout(a, 0.25) * a).sum()
    for mode in ("same", "different"):
        cr.manual_seed(0)
        g = V(cr.func.grad(f), randomness=mode)(x).numpy()
        cr.manual_seed(0)
        y = V(lambda a: F.dropout(a, 0.25), randomness=mode)(x).numpy()
        np.testing.assert_allclose(g, 2 * y)             # d/da (m·a·a) = 2 m a, a = 1
        if mode == "same":
            assert (y == y[0]).all()


def test_generator_restored_after_an_error_and_explicit_generator_passes():
    g = cr.Generator().manual_seed(0)
    with pytest.raises(VmapError):
        V(lambda a: a * cr.rand(3))(cr.ones(2, 3))
    assert type(cr_random.default_generator.rng) is np.random.Generator
    out = V(lambda a: a * cr.rand(3, generator=g))(cr.ones(2, 3))     # not intercepted: 'same'
    assert out.shape == (2, 3)


def test_nested_vmaps_each_follow_their_mode():
    x = cr.ones(2, 3)
    both = V(V(lambda a: cr.rand(()), randomness="different"), randomness="different")(x)
    assert len(set(both.numpy().ravel())) == 6
    inner_only = V(V(lambda a: cr.rand(()), randomness="different"), randomness="same")(x)
    assert (inner_only.numpy() == inner_only.numpy()[0]).all()
    assert len(set(inner_only.numpy()[0])) == 3


def test_chunks_keep_the_randomness_mode():
    x = cr.zeros(5, 3)
    same = V(lambda a: a + cr.rand(3), randomness="same", chunk_size=2)(x).numpy()
    assert (same == same[0]).all()
    cr.manual_seed(4)
    diff = V(lambda a: a + cr.rand(3), randomness="different", chunk_size=2)(x).numpy()
    cr.manual_seed(4)
    np.testing.assert_array_equal(diff, V(lambda a: a + cr.rand(3), randomness="different")(x))
