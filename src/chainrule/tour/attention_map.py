"""Step 14 — attention: where the addition transformer looks while it writes an answer.

A small encoder–decoder transformer learns to add three-digit numbers from characters (the model
of ``chainrule train addition --model transformer``, made smaller here: one layer each way, two
heads, d_model 32, five epochs, a few seconds; it answers about half the held-out questions
exactly, and its attention has already found the place values). It writes
the answer units digit first, the way a carry travels. Each panel shows, for one head of the last
decoder layer's cross-attention, the weights softmax(q kᵀ/√d) of every answer step (rows) over
the question's characters (columns): to write a digit the heads look at the two digits of the
same place value, and at the digits below when a carry may come.
"""
import numpy as np

from chainrule.datasets.addition import PAD, START, SYMBOLS, encode_questions
from chainrule.plot.figure import require_matplotlib
from chainrule.tensor import Tensor
from chainrule.tour._common import main, save
from chainrule.training.addition import answer, train_addition

FILENAME = "14-attention-map.png"
TITLE = "Attention: where the addition transformer looks, digit by digit"
QUESTION = "535+68"


def train(seed=0):
    """A one-layer transformer trained for five epochs on 20,000 questions; returns (model,
    held-out exact-match accuracy)."""
    model, _, history = train_addition("transformer", n_train=20000, n_test=500, epochs=5,
                                       batch_size=128, lr=3e-3, seed=seed, target=0.97,
                                       d_model=32, nhead=2, layers=1, dim_feedforward=64)
    return model, history["val_accuracy"][-1]


def cross_attention(model, question):
    """(weights (heads, answer steps, question characters), question characters, answer steps)
    of the last decoder layer's attention over the question, while answering *question*."""
    ids_in = encode_questions([question], model.config["digits"])
    src = Tensor(ids_in)
    written = answer(model, [question])[0]
    steps = written[::-1] if model.config.get("reverse_answers") else written
    ids = [START] + [1 + "0123456789".index(c) for c in steps]
    memory, pad = model.encode(src)
    layer = model.transformer.decoder.layers[-1].multihead_attn
    seen = {}
    handle = layer.register_forward_hook(lambda m, args, out: seen.setdefault("args", args))
    try:
        model.decode(Tensor(np.array([ids], dtype=np.int64)), memory, pad)
    finally:
        handle.remove()
    x, mem, _ = seen["args"]
    _, weights = layer(x, mem, mem, key_padding_mask=pad, need_weights=True,
                       average_attn_weights=False)
    keep = ids_in[0] != PAD
    chars = [SYMBOLS[i - 1] for i in ids_in[0][keep]]
    rows = list(steps) + ["end"]
    return weights.detach().numpy()[0][:, :, keep], chars, rows


def make(out_dir, model=None):
    """Train (or use *model*), read the attention weights of one question, draw them."""
    plt = require_matplotlib()
    accuracy = None
    if model is None:
        model, accuracy = train()
    weights, chars, rows = cross_attention(model, QUESTION)
    heads = weights.shape[0]
    fig, axes = plt.subplots(1, heads, figsize=(max(2.6 * heads + 1, 7.0), 3.8), squeeze=False)
    for h, ax in enumerate(axes[0]):
        ax.imshow(weights[h], cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(len(chars)), chars)
        ax.set_yticks(range(len(rows)), rows)
        ax.set_title(f"head {h + 1}")
        ax.set_xlabel("question")
        if h == 0:
            ax.set_ylabel("answer, units first")
    got = answer(model, [QUESTION])[0]
    note = "" if accuracy is None else f"\n(held-out exact match {accuracy:.3f})"
    fig.suptitle(f"{QUESTION} = {got}: cross-attention of the last decoder layer{note}")
    fig.tight_layout()
    return save(fig, out_dir, FILENAME)


if __name__ == "__main__":
    raise SystemExit(main(make))
