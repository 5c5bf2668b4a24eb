"""Large parameters are updated in cache-sized chunks: bit-identical to a whole-array update."""
import numpy as np
import pytest

import chainrule as cr

CASES = [(cr.optim.Adam, {"lr": 1e-2, "amsgrad": True, "weight_decay": 0.01}),
         (cr.optim.AdamW, {"lr": 1e-2}), (cr.optim.RMSprop, {"lr": 1e-2, "momentum": 0.9,
                                                            "centered": True}),
         (cr.optim.Adagrad, {"lr": 1e-2}), (cr.optim.Adamax, {"lr": 1e-2}),
         (cr.optim.SGD, {"lr": 1e-2, "momentum": 0.9, "nesterov": True})]


def _run(cls, kwargs, chunk):
    rng = np.random.default_rng(0)
    w = cr.nn.Parameter(cr.tensor(rng.standard_normal((70_001 + 3 * 512,)).astype(np.float32)))
    opt = cls([w], foreach=False, **kwargs)
    opt._chunk = chunk
    for _ in range(4):
        w.grad = cr.tensor(rng.standard_normal(w.shape).astype(np.float32))
        opt.step()
    return w._data.copy(), {k: v._data.copy() for k, v in opt.state[w].items()}


@pytest.mark.parametrize("cls,kwargs", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_chunked_update_is_bit_identical(cls, kwargs):
    whole, whole_state = _run(cls, kwargs, chunk=1 << 30)
    chunked, chunked_state = _run(cls, kwargs, chunk=1 << 12)
    assert np.array_equal(whole, chunked)
    for k in whole_state:
        assert np.array_equal(whole_state[k], chunked_state[k]), k
