"""The chainrule training step: the PyTorch loop with ``torch`` replaced by ``cr``.

``cr.nn.Sequential`` of ``cr.nn.Linear``/``cr.nn.ReLU``, ``cr.nn.BCEWithLogitsLoss`` or
``cr.nn.CrossEntropyLoss``, ``cr.optim.Adam(lr=1e-3)`` with its defaults; forward, loss,
``loss.backward()``, ``opt.step()``, ``opt.zero_grad()``. Weights are copied from the shared
NumPy draw.
"""
import numpy as np


def available():
    """``(True, None)`` when chainrule's nn and optim pieces the step needs exist, else ``(False, why)``."""
    try:
        import chainrule as cr
        import chainrule.nn  # noqa: F401
        import chainrule.optim  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - report whatever stops the import
        return False, f"import failed: {type(exc).__name__}: {exc}"
    missing = [name for mod, name in ((cr.nn, "Linear"), (cr.nn, "ReLU"), (cr.nn, "Sequential"),
                                      (cr.nn, "BCEWithLogitsLoss"), (cr.nn, "CrossEntropyLoss"),
                                      (cr.optim, "Adam"))
               if not hasattr(mod, name)]
    if missing:
        return False, "missing: " + ", ".join(missing)
    return True, None


def _cr():
    import chainrule as cr
    import chainrule.nn  # noqa: F401 - cr.nn / cr.optim may not be imported by chainrule itself
    import chainrule.optim  # noqa: F401
    return cr


def _linears(model):
    cr = _cr()
    return [m for m in model if isinstance(m, cr.nn.Linear)]


def build(cfg, weights):
    cr = _cr()
    layers = []
    for i, (fi, fo) in enumerate(zip(cfg.sizes[:-1], cfg.sizes[1:])):
        layers.append(cr.nn.Linear(fi, fo))
        if i < cfg.n_layers - 1:
            layers.append(cr.nn.ReLU())
    model = cr.nn.Sequential(*layers)
    for lin, (W, b) in zip(_linears(model), weights):
        w = lin.weight.data
        # PyTorch's layout is (out, in); accept the transpose should a layer store it that way
        w[...] = W if w.shape == W.shape else W.T
        lin.bias.data[...] = b
    return model


def make(cfg, weights):
    """The chainrule model and its step function ``step(x, y) -> loss`` (a 0-d tensor)."""
    cr = _cr()
    model = build(cfg, weights)
    loss_fn = cr.nn.BCEWithLogitsLoss() if cfg.loss == "bce" else cr.nn.CrossEntropyLoss()
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)

    def step(x, y):
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss

    return model, step


def convert_batches(batches):
    cr = _cr()
    return [(cr.from_numpy(x), cr.from_numpy(y)) for x, y in batches]


def loss_value(loss):
    return float(np.asarray(loss.detach().numpy()))


def weights(model):
    out = []
    for lin in _linears(model):
        W = np.array(lin.weight.data, copy=True)
        out.append((W, np.array(lin.bias.data, copy=True)))
    return out


def version():
    import chainrule as cr
    return cr.__version__
