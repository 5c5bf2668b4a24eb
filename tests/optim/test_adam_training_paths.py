"""Adam in real training loops, against PyTorch: the flat path, the per-parameter path (large
parameters in chunks), and what users do between steps (zero_grad either way, clipping, hooks,
replacing .grad, a parameter without a gradient, two groups)."""
import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

SIZES = (40, 64, 3)            # 40·64 + 64 + 64·3 + 3 = 2,819 parameters, 4 tensors
CHUNK = 1 << 9                 # below the first weight's size: per parameter, it goes in chunks


def _models(seed=0):
    rng = np.random.default_rng(seed)
    ours = cr.nn.Sequential(cr.nn.Linear(SIZES[0], SIZES[1]), cr.nn.ReLU(),
                            cr.nn.Linear(SIZES[1], SIZES[2]))
    theirs = torch.nn.Sequential(torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(),
                                 torch.nn.Linear(SIZES[1], SIZES[2]))
    for p, q in zip(ours.parameters(), theirs.parameters()):
        a = rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.2
        p._data[...] = a
        with torch.no_grad():
            q.copy_(torch.from_numpy(a.copy()))
    return ours, theirs


def _batches(n, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((16, SIZES[0])).astype(np.float32),
             rng.integers(0, SIZES[2], 16)) for _ in range(n)]


def _groups(params, two_groups):
    params = list(params)
    if not two_groups:
        return params
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.02}]


def _run(scenario, foreach, chunk, steps=8):
    """Train both libraries *steps* steps under *scenario*; return both parameter lists."""
    ours, theirs = _models()
    two = scenario == "two groups"
    kw = dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05 if scenario == "weight decay" else 0)
    opt = cr.optim.Adam(_groups(ours.parameters(), two), foreach=foreach, **kw)
    opt._chunk = chunk
    topt = torch.optim.Adam(_groups(theirs.parameters(), two), foreach=False, **kw)
    if scenario == "hook":
        w0, t0 = next(iter(ours.parameters())), next(iter(theirs.parameters()))
        w0.register_hook(lambda g: g * 0.5)
        t0.register_hook(lambda g: g * 0.5)
    set_to_none = scenario != "zero_grad(set_to_none=False)"
    for step, (x, y) in enumerate(_batches(steps)):
        loss = cr.nn.functional.cross_entropy(ours(cr.from_numpy(x)), cr.from_numpy(y))
        tloss = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        tloss.backward()
        if scenario == "clip_grad_norm_":
            cr.nn.utils.clip_grad_norm_(ours.parameters(), 0.5)
            torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.5)
        if scenario == "replaced grad" and step % 2:
            rng = np.random.default_rng(step)
            for p, q in zip(ours.parameters(), theirs.parameters()):
                g = rng.standard_normal(tuple(p.shape)).astype(np.float32)
                p.grad = cr.from_numpy(g.copy())
                q.grad = torch.from_numpy(g.copy())
        if scenario == "no grad on some steps" and step % 3 == 1:
            list(ours.parameters())[1].grad = None
            list(theirs.parameters())[1].grad = None
        opt.step()
        topt.step()
        opt.zero_grad(set_to_none=set_to_none)
        topt.zero_grad(set_to_none=set_to_none)
    return ([p._data.copy() for p in ours.parameters()],
            [q.detach().numpy().copy() for q in theirs.parameters()], opt)


SCENARIOS = ["plain", "zero_grad(set_to_none=False)", "clip_grad_norm_", "hook", "replaced grad",
             "no grad on some steps", "two groups", "weight decay"]


@pytest.mark.parametrize("foreach", [None, False])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_adam_training_matches_torch(scenario, foreach):
    ours, theirs, opt = _run(scenario, foreach, CHUNK)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6, err_msg=f"param {i}")
    if scenario == "plain":
        assert bool(opt._flat) == (foreach is None), "packed flat unless foreach=False"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_flat_chunked_and_whole_per_parameter_updates_are_bit_identical(scenario):
    chunked = _run(scenario, False, CHUNK)[0]
    whole = _run(scenario, False, 1 << 30)[0]
    flat = _run(scenario, None, CHUNK)[0]
    for a, b, c in zip(chunked, whole, flat):
        assert np.array_equal(a, b) and np.array_equal(a, c)


def test_chunk_scratch_is_kept_across_steps_and_dropped_with_the_state():
    w = cr.nn.Parameter(cr.tensor(np.ones(5000, np.float32)))
    opt = cr.optim.Adam([w], lr=0.1)
    opt._chunk = 1024
    w.grad = cr.tensor(np.full(5000, 0.5, np.float32))
    opt.step()
    work = opt._chunk_work(cr.backend.namespace_of(w._data))
    tmp = work.bufs["tmp"]
    opt.step()
    assert opt._chunk_work(cr.backend.namespace_of(w._data)).bufs["tmp"] is tmp
    opt.load_state_dict(opt.state_dict())
    assert not opt._works
    np.testing.assert_allclose(w._data, 0.8, rtol=1e-6)      # two steps of lr·sign(g)
