"""PyTorch habits, run by chainrule: fitting sin(x) with a cubic, seven ways.

The programs of PyTorch's "Learning PyTorch with Examples", written anew in the same habits:
tensors with hand-written gradients, autograd, a custom autograd Function, the nn package, an
optimizer, a custom Module, and a module whose depth changes at every call.  Only the import
names chainrule; swap ``import chainrule as torch`` for ``import torch`` (and ``from chainrule``
for ``from torch``) and the file runs on PyTorch, reaching the same losses from the same
weights (tests/examples/test_pytorch_habits_examples.py checks that).

Each program takes *steps* and *init* (the starting weights as numbers, drawn at random when
None) and returns the losses it printed and its final coefficients.  Run the file to see them.
"""
import math
import random

import chainrule as torch

DTYPE = torch.float
DEVICE = torch.device("cpu")


def _data(n=2000):
    x = torch.linspace(-math.pi, math.pi, n, device=DEVICE, dtype=DTYPE)
    return x, torch.sin(x)


def _weights(init, count, requires_grad=False):
    if init is None:
        return [torch.randn((), device=DEVICE, dtype=DTYPE, requires_grad=requires_grad)
                for _ in range(count)]
    return [torch.tensor(v, device=DEVICE, dtype=DTYPE, requires_grad=requires_grad)
            for v in init]


def tensors(steps=2000, init=None, lr=1e-6, log_every=100):
    """Gradient descent with the gradients written by hand (no autograd)."""
    x, y = _data()
    a, b, c, d = _weights(init, 4)
    losses = []
    for t in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum().item()
        if t % log_every == log_every - 1:
            print(t, loss)
            losses.append(loss)
        # d(loss)/d(y_pred), then the chain rule to each coefficient
        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = grad_y_pred.sum()
        grad_b = (grad_y_pred * x).sum()
        grad_c = (grad_y_pred * x ** 2).sum()
        grad_d = (grad_y_pred * x ** 3).sum()
        a -= lr * grad_a
        b -= lr * grad_b
        c -= lr * grad_c
        d -= lr * grad_d
    print(f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3")
    return losses, [a.item(), b.item(), c.item(), d.item()]


def autograd(steps=2000, init=None, lr=1e-6, log_every=100):
    """The same descent with ``loss.backward()`` computing the gradients."""
    x, y = _data()
    a, b, c, d = _weights(init, 4, requires_grad=True)
    losses = []
    for t in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        if t % log_every == log_every - 1:
            print(t, loss.item())
            losses.append(loss.item())
        loss.backward()
        with torch.no_grad():           # the update itself must not be recorded
            for w in (a, b, c, d):
                w -= lr * w.grad
                w.grad = None
    print(f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3")
    return losses, [a.item(), b.item(), c.item(), d.item()]


class LegendrePolynomial3(torch.autograd.Function):
    """P₃(x) = ½(5x³ - 3x) with its derivative P₃'(x) = 3/2 (5x² - 1) written by hand."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


def custom_function(steps=2000, init=(0.0, -1.0, 0.0, 0.3), lr=5e-6, log_every=100):
    """y = a + b·P₃(c + d·x) through the custom Function above."""
    x, y = _data()
    a, b, c, d = (torch.full((), v, device=DEVICE, dtype=DTYPE, requires_grad=True)
                  for v in init)
    P3 = LegendrePolynomial3.apply
    losses = []
    for t in range(steps):
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        if t % log_every == log_every - 1:
            print(t, loss.item())
            losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for w in (a, b, c, d):
                w -= lr * w.grad
                w.grad = None
    print(f"Result: y = {a.item()} + {b.item()} * P3({c.item()} + {d.item()} x)")
    return losses, [a.item(), b.item(), c.item(), d.item()]


def _features(x):
    # the columns x, x², x³: x of shape (n,) against the powers (3,) broadcast to (n, 3)
    p = torch.tensor([1, 2, 3])
    return x.unsqueeze(-1).pow(p)


def _linear_model(init):
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    if init is not None:
        model.load_state_dict({"0.weight": torch.tensor([init[1:]], dtype=DTYPE),
                               "0.bias": torch.tensor([init[0]], dtype=DTYPE)})
    return model


def _coefficients(linear):
    return [linear.bias.item()] + [linear.weight[:, i].item() for i in range(3)]


def nn(steps=2000, init=None, lr=1e-6, log_every=100):
    """The cubic as ``nn.Linear(3, 1)`` on the features x, x², x³, updated by hand."""
    x, y = _data()
    xx = _features(x)
    model = _linear_model(init)
    loss_fn = torch.nn.MSELoss(reduction="sum")
    losses = []
    for t in range(steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if t % log_every == log_every - 1:
            print(t, loss.item())
            losses.append(loss.item())
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for param in model.parameters():
                param -= lr * param.grad
    linear_layer = model[0]
    print(f"Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + "
          f"{linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3")
    return losses, _coefficients(linear_layer)


def optim(steps=2000, init=None, lr=1e-3, log_every=100):
    """The nn model again, stepped by ``torch.optim.RMSprop``."""
    x, y = _data()
    xx = _features(x)
    model = _linear_model(init)
    loss_fn = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.RMSprop(model.parameters(), lr=lr)
    losses = []
    for t in range(steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if t % log_every == log_every - 1:
            print(t, loss.item())
            losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    a, b, c, d = _coefficients(model[0])
    print(f"Result: y = {a} + {b} x + {c} x^2 + {d} x^3")
    return losses, [a, b, c, d]


class Polynomial3(torch.nn.Module):
    """The four coefficients as Parameters of a Module of our own."""

    def __init__(self, init=None):
        super().__init__()
        values = _weights(init, 4)
        self.a = torch.nn.Parameter(values[0])
        self.b = torch.nn.Parameter(values[1])
        self.c = torch.nn.Parameter(values[2])
        self.d = torch.nn.Parameter(values[3])

    def forward(self, x):
        return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

    def string(self):
        return (f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + "
                f"{self.d.item()} x^3")


def module(steps=2000, init=None, lr=1e-6, log_every=100):
    """The custom Module trained by ``torch.optim.SGD``."""
    x, y = _data()
    model = Polynomial3(init)
    criterion = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for t in range(steps):
        loss = criterion(model(x), y)
        if t % log_every == log_every - 1:
            print(t, loss.item())
            losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f"Result: {model.string()}")
    return losses, [p.item() for p in model.parameters()]


class DynamicNet(torch.nn.Module):
    """A polynomial whose degree is drawn anew at every forward pass (4 or 5), the higher terms
    sharing one coefficient e: the graph is rebuilt each call, so ordinary Python control flow
    is the model."""

    def __init__(self, init=None):
        super().__init__()
        values = _weights(init, 5)
        self.a, self.b, self.c, self.d, self.e = (torch.nn.Parameter(v) for v in values)

    def forward(self, x):
        y = self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3
        for exp in range(4, random.randint(4, 6)):
            y = y + self.e * x ** exp
        return y

    def string(self):
        return (f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + "
                f"{self.d.item()} x^3 + {self.e.item()} x^4 ? + {self.e.item()} x^5 ?")


def dynamic_net(steps=30000, init=None, lr=1e-8, log_every=2000, seed=0):
    """The dynamic net with SGD and momentum (Python's ``random`` seeded by *seed*)."""
    random.seed(seed)
    x, y = _data()
    model = DynamicNet(init)
    criterion = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    for t in range(steps):
        loss = criterion(model(x), y)
        if t % log_every == log_every - 1:
            print(t, loss.item())
            losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f"Result: {model.string()}")
    return losses, [p.item() for p in model.parameters()]


PROGRAMS = [tensors, autograd, custom_function, nn, optim, module, dynamic_net]

if __name__ == "__main__":
    torch.manual_seed(0)
    for program in PROGRAMS:
        print(f"--- {program.__name__}: {program.__doc__.splitlines()[0]}")
        program()
