"""Step 10 — the heart-disease model: its training curves, and its parameters counted by hand.

The lectures' network is inputs → 16 ReLU units → 1 sigmoid output, and its parameter count is
worked out layer by layer: a dense layer from n to m units has n·m weights and m biases.  The
lectures count 29 inputs:  29·16 + 16 + 16·1 + 1 = 497.  chainrule's preprocessing of the
Cleveland data gives 28 (the 13 variables with numeric columns standardised and the categorical
ones one-hot encoded on the levels the data documents), so the model trained here has
28·16 + 16 + 16·1 + 1 = 481.  Both counts are checked against ``count_parameters`` of the model
built by ``chainrule.keras.applications.heart.build_model`` — the same model ``chainrule train heart`` trains.

The curves are ``Model.fit``'s History (Adam, lr 0.001, batch 32, 100 epochs) on a seeded
stratified 75/25 split, drawn by :func:`chainrule.plot.history`.
"""
from chainrule.keras.applications.heart import build_model, count_parameters
from chainrule.keras.optimizers import Adam
from chainrule.plot.history import history
from chainrule.plot.optimizers import HeartProblem
from chainrule.random import manual_seed
from chainrule.tour._common import figure_path, main

FILENAME = "10-heart-curves.png"
TITLE = "The heart-disease model: training curves and 497 / 481 parameters by hand"
HIDDEN = 16
EPOCHS = 100
LECTURE_INPUTS = 29


def by_hand(n_inputs, hidden=HIDDEN):
    """(formula, count) for inputs → *hidden* → 1: n·h weights + h biases + h·1 weights + 1 bias."""
    count = n_inputs * hidden + hidden + hidden * 1 + 1
    return f"{n_inputs}·{hidden} + {hidden} + {hidden}·1 + 1 = {count}", count


def checked_counts(n_inputs, hidden=HIDDEN):
    """The hand counts for *n_inputs* and the lectures' 29, each checked against a built model."""
    out = []
    for n in (n_inputs, LECTURE_INPUTS):
        text, count = by_hand(n, hidden)
        built = count_parameters(build_model(n, hidden))
        if built != count:
            raise RuntimeError(f"heart_curves: by hand {count} parameters for {n} inputs, but "
                               f"the built model has {built}")
        out.append((n, text))
    return out


def train(seed=0, epochs=EPOCHS):
    """Train the heart model with ``compile``/``fit``; returns (History, number of inputs)."""
    problem = HeartProblem(seed)
    manual_seed(seed)
    model = build_model(problem.n_features, HIDDEN)
    model.compile(optimizer=Adam(learning_rate=1e-3), loss="binary_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(problem.x_train, problem.y_train, batch_size=32, epochs=epochs,
                     validation_data=(problem.x_test, problem.y_test), verbose=0)
    return hist, problem.n_features


def make(out_dir):
    """Train, count and draw; returns the PNG path."""
    hist, n_inputs = train()
    (n, ours), (_, lectures) = checked_counts(n_inputs)
    title = (f"heart disease, {n} → {HIDDEN} ReLU → 1 sigmoid (val_: the held-out 25 %)\n"
             f"parameters by hand: {ours}  (our {n} inputs)\n"
             f"the lectures' {LECTURE_INPUTS} inputs: {lectures}")
    return history(hist, figure_path(out_dir, FILENAME), title=title)


if __name__ == "__main__":
    raise SystemExit(main(make))
