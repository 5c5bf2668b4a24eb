"""The addition job's library part: two sequence-to-sequence models that learn to add from
characters, the training loop, greedy decoding, and saving.

``AdditionLSTM``: an LSTM encoder reads the question, its final (h, c) starts an LSTM decoder
that writes the answer one character at a time, attending to the encoder's outputs.
``AdditionTransformer``: a small encoder–decoder transformer (``cr.nn.Transformer``) with
learned positions. Both train by teacher forcing
(cross-entropy of each answer character given the true previous ones) and answer by greedy
decoding. Answers are written least significant digit first by default (the way a carry
travels, as on paper) and turned around for display. ``train_addition`` runs the whole job.

Example::

    >>> data = make_addition(2000, 200, seed=0, reverse_answers=True)
    >>> model = AdditionLSTM(hidden=32)
    >>> history = fit(model, data, epochs=1, batch_size=64)
    >>> answer(model, ["535+61"])      # an untrained guess
    ['...']
"""
import math
import time

import numpy as np

from chainrule.backend import namespace_of
from chainrule.datasets.addition import (PAD, START, VOCAB_SIZE, answer_length, decode,
                                         encode_questions, make_addition)
from chainrule.errors import ConfigError
from chainrule.grad_mode import no_grad
from chainrule.nn import functional as F
from chainrule.nn.modules.module import Module
from chainrule.nn.modules.rnn import LSTM
from chainrule.nn.modules.linear import Linear
from chainrule.nn.modules.sparse import Embedding
from chainrule.nn.modules.transformer import Transformer
from chainrule.nn.functional.attention import scaled_dot_product_attention
from chainrule.ops.shape import cat
from chainrule.optim import Adam
from chainrule.random import manual_seed
from chainrule.serialization import save
from chainrule.tensor import Tensor
from chainrule.training import model_file
from chainrule.training.loop import cosine_lr, fit_epochs

MODEL_FORMAT = "chainrule.addition-model"
MODEL_VERSION = 1


class AdditionLSTM(Module):
    """Encoder–decoder LSTM with attention: embed → bidirectional LSTM encoder (hidden/2 units
    each way); its final (h, c), both directions joined, start an LSTM decoder, whose every step
    attends to the encoder's outputs (Luong's "general" score s = h_dec W h_enc) before a Linear
    layer picks the next symbol.

    >>> m = AdditionLSTM(hidden=16)
    >>> m(cr.ones(2, 7, dtype=cr.int64), cr.ones(2, 5, dtype=cr.int64)).shape
    (2, 5, 14)
    """

    def __init__(self, embed=32, hidden=128, digits=3, reverse_answers=True):
        super().__init__()
        self.config = {"model": "lstm", "embed": embed, "hidden": hidden, "digits": digits,
                       "reverse_answers": bool(reverse_answers)}
        if hidden % 2:
            raise ConfigError(f"AdditionLSTM: hidden must be even (half the units read the "
                              f"question each way), got {hidden}")
        self.embedding = Embedding(VOCAB_SIZE, embed)
        self.encoder = LSTM(embed, hidden // 2, batch_first=True, bidirectional=True)
        self.decoder = LSTM(embed, hidden, batch_first=True)
        self.attention = Linear(hidden, hidden, bias=False)
        self.combine = Linear(2 * hidden, hidden)
        self.out = Linear(hidden, VOCAB_SIZE)

    def encode(self, src):
        """The encoder's outputs (batch, steps, hidden), keys, final state and padding mask."""
        memory, (h, c) = self.encoder(self.embedding(src))
        state = (cat([h[0], h[1]], -1).unsqueeze(0), cat([c[0], c[1]], -1).unsqueeze(0))
        return memory, self.attention(memory), state, (src != PAD).unsqueeze(1)

    def decode(self, tgt_in, memory, keys, state, keep):
        """Logits for each decoder step (and the decoder's state after the last one)."""
        y, state = self.decoder(self.embedding(tgt_in), state)
        context = scaled_dot_product_attention(y, keys, memory, attn_mask=keep, scale=1.0)
        return self.out(self.combine(cat([y, context], -1)).tanh()), state

    def forward(self, src, tgt_in):
        """Logits (batch, answer steps, symbols) of each answer symbol given the previous ones."""
        memory, keys, state, keep = self.encode(src)
        return self.decode(tgt_in, memory, keys, state, keep)[0]

    @no_grad()
    def generate(self, src, steps):
        """Greedy decoding: the most likely symbol at each step, fed back as the next input."""
        memory, keys, state, keep = self.encode(src)
        token = Tensor(namespace_of(src._data).full((src.shape[0], 1), START, dtype=np.int64))
        out = []
        for _ in range(steps):
            logits, state = self.decode(token, memory, keys, state, keep)
            token = logits.argmax(-1)
            out.append(token)
        return cat(out, 1)


class AdditionTransformer(Module):
    """A small encoder–decoder transformer with learned positions (pre-norm, no dropout).

    >>> m = AdditionTransformer(d_model=16, nhead=2, layers=1, dim_feedforward=32)
    >>> m(cr.ones(2, 7, dtype=cr.int64), cr.ones(2, 5, dtype=cr.int64)).shape
    (2, 5, 14)
    """

    def __init__(self, d_model=64, nhead=4, layers=2, dim_feedforward=128, digits=3,
                 reverse_answers=True):
        super().__init__()
        self.config = {"model": "transformer", "d_model": d_model, "nhead": nhead,
                       "layers": layers, "dim_feedforward": dim_feedforward, "digits": digits,
                       "reverse_answers": bool(reverse_answers)}
        self.d_model = d_model
        self.embedding = Embedding(VOCAB_SIZE, d_model)
        self.position = Embedding(2 * digits + 2, d_model)
        self.transformer = Transformer(d_model, nhead, layers, layers, dim_feedforward,
                                       dropout=0.0, batch_first=True, norm_first=True)
        self.out = Linear(d_model, VOCAB_SIZE)

    def _embed(self, ids):
        pos = Tensor(namespace_of(ids._data).arange(ids.shape[1], dtype=np.int64))
        return self.embedding(ids) * math.sqrt(self.d_model) + self.position(pos)

    def encode(self, src):
        """The encoder's memory (batch, question steps, d_model) and the padding mask."""
        pad = src == PAD
        return self.transformer.encoder(self._embed(src), src_key_padding_mask=pad), pad

    def decode(self, tgt_in, memory, pad):
        """Logits of every answer step, each seeing only the steps before it."""
        n = tgt_in.shape[1]
        causal = Transformer.generate_square_subsequent_mask(n)
        y = self.transformer.decoder(self._embed(tgt_in), memory, tgt_mask=causal,
                                     memory_key_padding_mask=pad, tgt_is_causal=True)
        return self.out(y)

    def forward(self, src, tgt_in):
        memory, pad = self.encode(src)
        return self.decode(tgt_in, memory, pad)

    @no_grad()
    def generate(self, src, steps):
        """Greedy decoding: rerun the decoder on the answer so far, keep the last step's choice."""
        memory, pad = self.encode(src)
        tokens = Tensor(namespace_of(src._data).full((src.shape[0], 1), START, dtype=np.int64))
        for _ in range(steps):
            nxt = self.decode(tokens, memory, pad)[:, -1:].argmax(-1)
            tokens = cat([tokens, nxt], 1)
        return tokens[:, 1:]


MODELS = {"lstm": AdditionLSTM, "transformer": AdditionTransformer}


def build_model(config):
    """A model from its ``config`` dict (``{"model": "lstm", "hidden": 128, ...}``)."""
    config = dict(config)
    kind = config.pop("model", None)
    if kind not in MODELS:
        raise ConfigError(f"unknown addition model {kind!r}; choose from {sorted(MODELS)}")
    return MODELS[kind](**config)


def loss_of(model, x, y_in, y_out):
    """Mean cross-entropy of the answer symbols (padding ignored)."""
    logits = model(Tensor(x), Tensor(y_in))
    return F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), Tensor(y_out.reshape(-1)),
                           ignore_index=PAD)


def answer(model, questions, batch_size=1000):
    """The model's answers to *questions* (strings such as ``"535+61"``), by greedy decoding."""
    digits = model.config["digits"]
    x = encode_questions(questions, digits)
    model.eval()
    out = []
    for i in range(0, len(x), batch_size):
        ids = model.generate(Tensor(x[i:i + batch_size]), answer_length(digits))._data
        out.extend(decode(row, model.config.get("reverse_answers", False)) for row in ids)
    return out


def exact_match(model, questions, answers):
    """The fraction of questions answered exactly right."""
    got = answer(model, questions)
    return float(np.mean([g == a for g, a in zip(got, answers)]))


def fit(model, data, epochs=30, batch_size=128, lr=3e-3, seed=0, target=None,
        max_seconds=None, on_epoch=None):
    """Train *model* on ``make_addition`` data with Adam (gradients clipped to norm 1, the
    learning rate decayed by a cosine over the planned epochs); after each epoch measure the
    exact-match accuracy on the held-out questions.

    Stops early once accuracy ≥ *target* or after *max_seconds*. *on_epoch(epoch, logs)* is
    called with logs {"loss", "val_accuracy", "seconds"}. Returns the history, a dict of lists.
    """
    if epochs < 1 or batch_size < 1 or not lr > 0:
        raise ConfigError(f"fit: epochs and batch_size must be positive and lr > 0, got "
                          f"epochs={epochs}, batch_size={batch_size}, lr={lr}")
    x, y_in, y_out = data.x_train, data.y_in_train, data.y_out_train
    total = epochs * max(1, -(-len(x) // batch_size))
    history = {"loss": [], "val_accuracy": []}
    losses, start = [], time.perf_counter()

    def end_epoch(epoch):
        acc = exact_match(model, data.test_questions, data.test_answers)
        seconds = time.perf_counter() - start
        history["loss"].append(float(np.mean(losses)))
        history["val_accuracy"].append(acc)
        losses.clear()
        if on_epoch is not None:
            on_epoch(epoch + 1, {"loss": history["loss"][-1], "val_accuracy": acc,
                                 "seconds": seconds})
        return (target is not None and acc >= target) or \
            (max_seconds is not None and seconds >= max_seconds)

    fit_epochs(model, Adam(model.parameters(), lr=lr), len(x), epochs, batch_size,
               np.random.default_rng(seed), lambda epoch, step: cosine_lr(lr, step, total),
               lambda idx: loss_of(model, x[idx], y_in[idx], y_out[idx]), end_epoch,
               on_step=lambda value, idx: losses.append(value), clip_norm=1.0)
    return history


def train_addition(model="lstm", n_train=50000, n_test=2000, epochs=30, batch_size=128,
                   lr=3e-3, seed=0, target=0.99, max_seconds=None, on_epoch=None, **sizes):
    """The whole job: seeded data, a fresh model (*sizes* go to its constructor), training.

    Returns (model, data, history).
    """
    manual_seed(seed)
    net = build_model({"model": model, **sizes})
    data = make_addition(n_train, n_test, net.config["digits"], seed,
                         net.config["reverse_answers"])
    history = fit(net, data, epochs, batch_size, lr, seed, target, max_seconds, on_epoch)
    return net, data, history


def save_model(path, model, history=None, extra=None):
    """One file (``cr.save``, no pickle): format tag, the model's config, its weights, history."""
    save({"format": MODEL_FORMAT, "version": MODEL_VERSION, "config": dict(model.config),
          "state_dict": {k: v.detach().numpy() for k, v in model.state_dict().items()},
          "history": history or {}, "extra": extra or {}}, path)


def is_model_file(path):
    """True when *path* is a file written by :func:`save_model` (any other file: False)."""
    return model_file.is_model_file(path, MODEL_FORMAT)


def load_model(path):
    """The model saved at *path* by :func:`save_model`, in evaluation mode."""
    def build(obj):
        model = build_model(obj["config"])
        model.load_state_dict(obj["state_dict"])
        return model
    return model_file.load_model_file(path, MODEL_FORMAT, MODEL_VERSION, "addition",
                                      "an addition model", build).eval()


__all__ = ["AdditionLSTM", "AdditionTransformer", "answer", "build_model",
           "exact_match", "fit", "is_model_file", "load_model", "save_model", "train_addition"]
