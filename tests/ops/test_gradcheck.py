"""Every op of the table: forward against NumPy, gradcheck and gradgradcheck in float64."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck

from .op_table import CASE_IDS, CASES


def as_inputs(sample):
    """Float arrays become float64 leaves requiring grad; masks and indices stay plain tensors."""
    return tuple(cr.tensor(a, requires_grad=a.dtype.kind == "f") for a in sample.args)


def as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


@pytest.mark.parametrize("op, sample", CASES, ids=CASE_IDS)
def test_forward_matches_numpy(op, sample):
    xs = as_inputs(sample)
    got = as_tuple(op.fn(cr, *xs))
    want = as_tuple(op.numpy(*[a.copy() for a in sample.args]))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert isinstance(g, cr.Tensor)
        assert g.shape == w.shape, f"{op.name}: shape {g.shape}, expected {w.shape}"
        assert g.dtype == cr.float64
        np.testing.assert_allclose(g.detach().numpy(), w, rtol=1e-10, atol=1e-12)
        assert g.requires_grad  # (an op that changes nothing may return its input itself)


@pytest.mark.parametrize("op, sample", CASES, ids=CASE_IDS)
def test_gradcheck(op, sample):
    assert gradcheck(lambda *xs: op.fn(cr, *xs), as_inputs(sample))


@pytest.mark.parametrize("op, sample", [c for c in CASES if c[0].gradgrad],
                         ids=[i for c, i in zip(CASES, CASE_IDS) if c[0].gradgrad])
def test_gradgradcheck(op, sample):
    assert gradgradcheck(lambda *xs: op.fn(cr, *xs), as_inputs(sample))


@pytest.mark.parametrize("op, sample", CASES, ids=CASE_IDS)
def test_gradients_have_input_shape_and_dtype(op, sample):
    xs = as_inputs(sample)
    outs = [o for o in as_tuple(op.fn(cr, *xs)) if o.requires_grad]
    cr.autograd.backward(outs, [cr.ones_like(o) for o in outs])
    for x in xs:
        if x.requires_grad and x.grad is not None:
            assert x.grad.shape == x.shape and x.grad.dtype == x.dtype
            assert x.grad.grad_fn is None


@pytest.mark.parametrize("op, sample", CASES, ids=CASE_IDS)
def test_no_graph_under_no_grad(op, sample):
    xs = as_inputs(sample)
    with cr.no_grad():
        outs = as_tuple(op.fn(cr, *xs))
    # (an op that changes nothing returns its input itself, as torch does: that one keeps its flag)
    assert all(o.grad_fn is None and not o.requires_grad for o in outs
               if not any(o is x for x in xs))
