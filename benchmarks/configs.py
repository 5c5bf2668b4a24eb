"""The five benchmark configurations, and the one seeded NumPy draw shared by every framework.

Every framework starts from the same weights (``init_weights``) and trains on the same batches
(``make_batches``): the arrays returned here are the single source, copied into PyTorch and
chainrule and used as-is by the NumPy reference.
"""
from dataclasses import dataclass

import numpy as np

DTYPE = np.float32
LR = 1e-3
BETAS = (0.9, 0.999)
EPS = 1e-8


@dataclass(frozen=True)
class Config:
    name: str
    sizes: tuple          # layer widths, input first, output last
    batch: int
    loss: str             # "bce" (BCE-with-logits, one output) or "ce" (softmax cross-entropy)
    steps: int            # default timed steps per framework (spread over the rounds)
    rounds: int           # default number of interleaved repetition rounds

    @property
    def n_layers(self):
        return len(self.sizes) - 1

    @property
    def n_params(self):
        return sum(i * o + o for i, o in zip(self.sizes[:-1], self.sizes[1:]))

    def describe(self):
        arch = "\u2192".join(str(s) for s in self.sizes)
        if self.name == "deep":
            arch = f"{self.sizes[0]}\u2192[{self.sizes[1]}]x{self.n_layers - 1}\u2192{self.sizes[-1]}"
        return f"{arch}, batch {self.batch}, {'BCE-with-logits' if self.loss == 'bce' else 'cross-entropy'}"


CONFIGS = {
    "heart": Config("heart", (29, 16, 1), 32, "bce", steps=1000, rounds=20),
    "small": Config("small", (784, 128, 10), 64, "ce", steps=1000, rounds=20),
    "medium": Config("medium", (784, 512, 512, 10), 128, "ce", steps=1000, rounds=20),
    "wide": Config("wide", (2048, 2048, 2048, 10), 256, "ce", steps=60, rounds=10),
    "deep": Config("deep", (64,) + (64,) * 20 + (10,), 32, "ce", steps=1000, rounds=20),
}


def init_weights(cfg, seed=0):
    """PyTorch's default ``nn.Linear`` init, drawn once with NumPy.

    Returns a list of ``(W, b)`` with ``W`` of shape ``(out, in)`` (PyTorch's layout) and ``b`` of
    shape ``(out,)``, both float32, uniform in ``[-1/sqrt(in), 1/sqrt(in)]``.
    """
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(cfg.sizes[:-1], cfg.sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        W = rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(DTYPE)
        b = rng.uniform(-bound, bound, size=(fan_out,)).astype(DTYPE)
        params.append((W, b))
    return params


def make_batches(cfg, n_batches=8, seed=1):
    """A small pool of fixed batches ``(x, y)``; step *i* trains on batch ``i % n_batches``.

    ``x`` is float32 ``(batch, in)``; ``y`` is float32 ``(batch, 1)`` of 0/1 for BCE and int64
    ``(batch,)`` class indices for cross-entropy. Labels depend on ``x`` so the loss can fall.
    """
    rng = np.random.default_rng(seed)
    n_out = cfg.sizes[-1]
    proj = rng.standard_normal((cfg.sizes[0], max(n_out, 1))).astype(DTYPE)
    batches = []
    for _ in range(n_batches):
        x = rng.standard_normal((cfg.batch, cfg.sizes[0])).astype(DTYPE)
        score = x @ proj
        if cfg.loss == "bce":
            y = (score[:, :1] > 0).astype(DTYPE)
        else:
            y = np.argmax(score, axis=1).astype(np.int64)
        batches.append((np.ascontiguousarray(x), np.ascontiguousarray(y)))
    return batches
