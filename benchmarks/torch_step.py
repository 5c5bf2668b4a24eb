"""The PyTorch CPU training step: the usual loop, with weights copied from the shared NumPy draw.

``torch.optim.Adam(lr=1e-3)`` with its defaults (on CPU that is the single-tensor, for-loop
implementation), ``zero_grad()`` with its default ``set_to_none=True``.
"""
import numpy as np


def available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def build(cfg, weights):
    import torch
    from torch import nn
    layers = []
    for i, (fi, fo) in enumerate(zip(cfg.sizes[:-1], cfg.sizes[1:])):
        layers.append(nn.Linear(fi, fo))
        if i < cfg.n_layers - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for lin, (W, b) in zip(linears, weights):
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
    return model


def make(cfg, weights):
    """The PyTorch model and its step function ``step(x, y) -> loss`` (a 0-d tensor)."""
    import torch
    from torch import nn
    model = build(cfg, weights)
    loss_fn = nn.BCEWithLogitsLoss() if cfg.loss == "bce" else nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(x, y):
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss

    return model, step


def convert_batches(batches):
    import torch
    return [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]


def loss_value(loss):
    return float(loss.detach())


def weights(model):
    from torch import nn
    return [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
            for m in model if isinstance(m, nn.Linear)]


def num_threads():
    import torch
    return torch.get_num_threads()


def set_num_threads(n):
    import torch
    torch.set_num_threads(n)


def version():
    import torch
    return torch.__version__
