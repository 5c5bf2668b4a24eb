"""Resource hygiene: a long training loop holds flat memory, graphs die after backward, and
evaluation under ``cr.no_grad()`` builds no graph.

Memory is measured with :mod:`tracemalloc`, which sees NumPy's array buffers as well as Python
objects, so a graph kept alive by a stray reference, a growing list of saved tensors or an
optimiser state that is re-allocated each step shows up as growth between samples. The cyclic
garbage collector is off while it is measured, so a graph that only a collection would free (a
reference cycle) shows up too.
"""
import gc
import time
import tracemalloc
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, TensorDataset

STEPS, WARMUP, EVERY = 2000, 200, 200


def _mlp():
    return cr.nn.Sequential(cr.nn.Linear(8, 32), cr.nn.ReLU(), cr.nn.Dropout(0.1),
                            cr.nn.Linear(32, 32), cr.nn.Tanh(), cr.nn.Linear(32, 1))


def _live_tensors():
    return sum(issubclass(type(o), cr.Tensor) for o in gc.get_objects())  # type(): no __class__


def _fill_freelists():
    """Fill CPython's tuple free lists (2,000 per size), which a full collection empties: else the
    tuples a step frees are kept for reuse, still counted by tracemalloc, and the first thousand
    steps look like growth that stops at the free list's size."""
    junk = [tuple(range(n)) for n in range(1, 21) for _ in range(2100)]
    del junk


@pytest.fixture
def gc_restored():
    yield
    gc.enable()


def test_two_thousand_steps_hold_flat_memory(gc_restored):
    cr.manual_seed(0)
    model = _mlp()
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = cr.nn.MSELoss()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype(np.float32)
    ds = TensorDataset(cr.tensor(x), cr.tensor(np.sin(x[:, :1])))
    loader = DataLoader(ds, batch_size=16, shuffle=True, generator=cr.Generator().manual_seed(0))
    started = time.perf_counter()

    def batches():
        while True:
            yield from loader

    # the bookkeeping is allocated up front, so that only the loop itself is measured
    losses, samples = np.zeros(STEPS), np.zeros((STEPS - WARMUP) // EVERY + 1, dtype=np.int64)
    stream = batches()
    for step in range(STEPS):
        if step == WARMUP:
            gc.collect()
            tensors_before = _live_tensors()
            _fill_freelists()
            gc.disable()        # graphs must be freed by reference counting alone: no cycles
            tracemalloc.start()
        xb, yb = next(stream)
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        losses[step] = loss.item()          # a float, not the tensor: keeps no graph alive
        if step >= WARMUP and (step - WARMUP) % EVERY == 0:
            samples[(step - WARMUP) // EVERY] = tracemalloc.get_traced_memory()[0]
    samples[-1] = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    gc.enable()
    del xb, yb, loss
    gc.collect()
    tensors_after = _live_tensors()
    assert time.perf_counter() - started < 15
    assert np.isfinite(losses).all() and np.mean(losses[-100:]) < np.mean(losses[:100])
    # flat: after the warm-up, traced memory never grows by more than 32 KiB (one step's scratch
    # is a few KiB), and the live tensors are the same in number at the end as at the start
    growth = (samples - samples[0]).tolist()
    assert max(growth) < 32 * 1024, f"memory grew by {max(growth)} bytes: {growth}"
    assert tensors_after <= tensors_before, f"live tensors: {tensors_before} -> {tensors_after}"


def test_a_steps_graph_is_freed_by_backward():
    model = _mlp()
    x, y = cr.randn(16, 8), cr.randn(16, 1)
    hidden = model[0](x)
    out = model[5](model[4](model[3](model[2](model[1](hidden)))))
    loss = ((out - y) ** 2).mean()
    nodes = [weakref.ref(loss.grad_fn), weakref.ref(out.grad_fn), weakref.ref(hidden.grad_fn)]
    inner = [weakref.ref(hidden), weakref.ref(out)]
    del hidden, out
    loss.backward()
    assert all(r() is None for r in inner), "intermediate tensors outlive backward"
    del loss
    assert all(r() is None for r in nodes), "graph nodes outlive the loss (a reference cycle?)"
    assert all(p.grad is not None and p.grad.grad_fn is None for p in model.parameters())


def test_retain_graph_keeps_it_until_the_loss_goes():
    w = cr.randn(3, requires_grad=True)
    loss = (w * w).sum()
    node = weakref.ref(loss.grad_fn)
    loss.backward(retain_graph=True)
    loss.backward()
    assert node() is not None
    del loss
    assert node() is None


def test_no_grad_evaluation_builds_no_graph():
    model = _mlp()
    model.eval()
    x = cr.randn(32, 8)
    with cr.no_grad():
        hidden = model[1](model[0](x))
        out = model(x)
        loss = cr.nn.functional.mse_loss(out, cr.zeros(32, 1))
    for t in (hidden, out, loss):
        assert t.grad_fn is None and not t.requires_grad
    with pytest.raises(RuntimeError):
        loss.backward()
    assert all(p.grad is None for p in model.parameters())


def test_keras_evaluate_and_predict_build_no_graph():
    inputs = cr.layers.Input(shape=(8,))
    out = cr.layers.Dense(1)(cr.layers.Dense(16, activation="relu")(inputs))
    model = cr.Model(inputs, out)
    model.compile("adam", "mse")
    x, y = np.random.default_rng(0).normal(size=(64, 8)), np.zeros((64, 1))
    model.fit(x, y, epochs=1, verbose=0)
    for p in model.parameters():
        p.grad = None
    seen = []
    model.register_forward_hook(lambda module, args, output: seen.append(output))
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert seen and all(o.grad_fn is None and not o.requires_grad for o in seen)
    assert all(p.grad is None for p in model.parameters())
