"""Convolution, pooling, padding and resizing on the "cuda" device played by the CPU stand-in for
CuPy: forward values, first-order gradients and create_graph second-order gradients equal the
CPU's, stay on the device, and never pass through NumPy (the stand-in refuses that, as CuPy)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.backend import cuda as cuda_backend, standin
from chainrule.nn.functional import _windows
from chainrule.nn.functional.channel_dropout import dropout2d
from chainrule.nn.functional.conv import conv1d, conv2d, conv_transpose2d, fold, unfold
from chainrule.nn.functional.padding import pad
from chainrule.nn.functional.pooling import (adaptive_avg_pool2d, avg_pool1d, avg_pool2d,
                                             max_pool1d, max_pool2d)
from chainrule.nn.functional.resize import interpolate
from chainrule.nn.modules.batchnorm import BatchNorm2d

RNG = np.random.default_rng(11)
X = RNG.standard_normal((2, 4, 7, 6))
W = RNG.standard_normal((6, 2, 3, 3))
B = RNG.standard_normal(6)

CASES = [
    ("conv2d", lambda x, w, b: conv2d(x, w, b, stride=2, padding=1, groups=2)),
    ("conv2d.same", lambda x, w, b: conv2d(x[:, :2], w, b, padding="same", dilation=2)),
    ("conv1d", lambda x, w, b: conv1d(x[:, :, 0], w[:, :, 0], b, padding=1, groups=2)),
    ("conv_transpose2d", lambda x, w, b: conv_transpose2d(x, w[:4], b[:4], stride=2, padding=1,
                                                          output_padding=1, groups=2)),
    ("unfold.fold", lambda x, w, b: fold(unfold(x, 3, padding=1, stride=2) * 2, (7, 6), 3,
                                         padding=1, stride=2)),
    ("max_pool2d", lambda x, w, b: max_pool2d(x, 3, 2, 1, ceil_mode=True)),
    ("max_pool2d.indices", lambda x, w, b: max_pool2d(x, 2, return_indices=True)[0]),
    ("max_pool1d", lambda x, w, b: max_pool1d(x[:, :, 0], 2, 1, dilation=2)),
    ("avg_pool2d", lambda x, w, b: avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                              count_include_pad=False)),
    ("avg_pool1d", lambda x, w, b: avg_pool1d(x[:, :, 0], 3, 2, 1)),
    ("adaptive_avg_pool2d", lambda x, w, b: adaptive_avg_pool2d(x, (3, 4))),
    ("adaptive_avg_pool2d.global", lambda x, w, b: adaptive_avg_pool2d(x, 1)),
    ("pad.constant", lambda x, w, b: pad(x, (1, -2, 2, 1), value=0.5)),
    ("pad.reflect", lambda x, w, b: pad(x, (1, 2, 2, 1), mode="reflect")),
    ("pad.replicate", lambda x, w, b: pad(x, (1, 2, 2, 1), mode="replicate")),
    ("interpolate.bilinear", lambda x, w, b: interpolate(x, size=(9, 11), mode="bilinear",
                                                         align_corners=True)),
    ("interpolate.nearest2", lambda x, w, b: interpolate(x, scale_factor=2)),
    ("interpolate.nearest", lambda x, w, b: interpolate(x, size=(5, 9))),
]


@pytest.fixture(scope="module")
def ns():
    with cuda_backend.use_standin() as namespace:
        yield namespace


def _run(fn, device_ns, create_graph=False):
    def make(a):
        return cr.Tensor(a.copy() if device_ns is None else device_ns.asarray(a),
                         requires_grad=True)
    x, w, b = make(X), make(W), make(B)
    y = fn(x, w, b)
    loss = (y * y).sum()
    grads = cr.autograd.grad(loss, [x, w, b], create_graph=create_graph, allow_unused=True)
    out = [y] + [g for g in grads if g is not None]
    if create_graph:
        sum(g.sum() * (i + 1) for i, g in enumerate(grads) if g is not None).backward()
        out += [t.grad for t in (x, w, b) if t.grad is not None]
    return out


def _host(t):
    d = t.detach()._data
    return d.get() if isinstance(d, standin.StandInArray) else d


@pytest.mark.parametrize("name,fn", CASES, ids=[c[0] for c in CASES])
def test_device_equals_cpu(ns, name, fn):
    cpu, dev = _run(fn, None), _run(fn, ns)
    assert len(cpu) == len(dev)
    for a, b in zip(cpu, dev):
        assert isinstance(b._data, standin.StandInArray), name
        np.testing.assert_allclose(_host(b), a.detach().numpy(), rtol=1e-10, atol=1e-10,
                                   err_msg=name)


@pytest.mark.parametrize("name,fn", [c for c in CASES if c[0] in (
    "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "unfold.fold", "pad.constant")],
    ids=lambda c: c if isinstance(c, str) else "")
def test_device_second_order_equals_cpu(ns, name, fn):
    cpu, dev = _run(fn, None, True), _run(fn, ns, True)
    for a, b in zip(cpu, dev):
        np.testing.assert_allclose(_host(b), a.detach().numpy(), rtol=1e-10, atol=1e-10,
                                   err_msg=name)


def test_blocked_convolution_on_device(ns, monkeypatch):
    monkeypatch.setattr(_windows, "BLOCK_BYTES", 1)
    fn = CASES[0][1]
    for a, b in zip(_run(fn, None), _run(fn, ns)):
        np.testing.assert_allclose(_host(b), a.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_conv_training_step_makes_no_transfer(ns):
    """conv → BN → ReLU → pool → dropout2d forward and backward stay on the device."""
    bn = BatchNorm2d(6).to("cuda")
    x = cr.Tensor(ns.asarray(X), requires_grad=False)
    w = cr.Tensor(ns.asarray(W), requires_grad=True)
    standin.reset_transfers()
    y = max_pool2d(bn(conv2d(x, w, padding=1, groups=2)).relu(), 2)
    y = dropout2d(y, 0.25)
    (y * y).mean().backward()
    assert standin.transfers == {"to_device": 0, "to_host": 0}
    assert isinstance(w.grad._data, standin.StandInArray)
