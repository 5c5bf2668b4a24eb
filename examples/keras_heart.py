"""The lectures' Keras heart-disease model, end to end, with ``keras`` replaced by ``cr``.

    python examples/keras_heart.py

Data: the UCI Cleveland file shipped inside chainrule (303 patients, 13 variables).  The numeric
variables are standardised and the categorical ones one-hot encoded with statistics of the
training rows only; with the levels this file documents, 13 variables become 28 inputs (the
lectures count 29), so the model has 28·16 + 16 + 16·1 + 1 = 481 parameters (497 with 29 inputs).

The same model is then trained a second time, PyTorch-style, by a hand-written loop: a
``cr.Model`` is a ``cr.nn.Module``, and ``fit`` runs the same ``chainrule.training`` step.
"""
import numpy as np

import chainrule as cr
from chainrule.datasets import load_heart_disease
from chainrule.metrics import accuracy_score
from chainrule.preprocessing import TabularPreprocessor, train_test_split


def prepare(seed=0):
    data = load_heart_disease()
    gen = cr.Generator().manual_seed(seed)
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.2, stratify=data.target, generator=gen)
    pre = TabularPreprocessor(data.feature_names, data.feature_kinds, categories=data.categories)
    x_train = pre.fit_transform(X_train).astype(np.float32)
    x_test = pre.transform(X_test).astype(np.float32)
    return x_train, y_train.astype(np.float32), x_test, y_test


def lecture_model(n_inputs):
    # The lectures' four lines.
    inputs = cr.layers.Input(shape=(n_inputs,), name="input")
    h = cr.layers.Dense(16, activation="relu")(inputs)
    outputs = cr.layers.Dense(1, activation="sigmoid")(h)
    return cr.Model(inputs, outputs)


def keras_style(seed=0, epochs=100, verbose=0):
    x_train, y_train, x_test, y_test = prepare(seed)
    cr.manual_seed(seed)
    model = lecture_model(x_train.shape[1])
    model.summary()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, validation_split=0.2,
              verbose=verbose)
    prob = model.predict(x_test, verbose=0).reshape(-1)
    return accuracy_score(y_test, (prob > 0.5).astype(int))


def pytorch_style(seed=0, epochs=100):
    x_train, y_train, x_test, y_test = prepare(seed)
    cr.manual_seed(seed)
    model = lecture_model(x_train.shape[1])           # the same definition ...
    loss_fn = cr.nn.BCELoss()                           # ... trained by hand
    optimizer = cr.optim.Adam(model.parameters(), lr=1e-3)
    loader = cr.data.DataLoader(
        cr.data.TensorDataset(cr.tensor(x_train), cr.tensor(y_train.reshape(-1, 1))),
        batch_size=32, shuffle=True, generator=cr.Generator().manual_seed(seed))
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
    model.eval()
    with cr.no_grad():
        prob = model(cr.tensor(x_test)).numpy().reshape(-1)
    return accuracy_score(y_test, (prob > 0.5).astype(int))


if __name__ == "__main__":
    print(f"Keras style (compile/fit):   test accuracy {keras_style(verbose=2):.3f}")
    print(f"PyTorch style (by hand):     test accuracy {pytorch_style():.3f}")
