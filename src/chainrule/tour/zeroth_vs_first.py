"""Step 11 — zeroth- versus first-order: the gradient from backprop against gradients from f alone.

The problem: logistic regression on the heart-disease data (28 inputs + 1 bias = 29 parameters,
binary cross-entropy on the 227 training patients), full batch, plain ``cr.optim.SGD`` from the
same start.  Four ways to get the gradient for each step:

* **backprop** — one forward and one backward pass (counted as 2 evaluations);
* **central differences** — ĝᵢ = (f(θ + εeᵢ) − f(θ − εeᵢ)) / 2ε: 2·29 = 58 evaluations a step,
  and then as good as backprop, step for step;
* **SPSA** and **Gaussian** — one random direction d a step, ĝ = (f(θ + εd) − f(θ − εd)) / 2ε · d:
  2 evaluations, unbiased but noisy, and the noise grows with the number of parameters.

All zeroth-order estimates are :func:`chainrule.optim.zeroth_order.estimate_grad`.  Each method
has its own step size, the best of 0.25, 0.5, 1, 2, 4 and 8 for it on this problem: the noisy
estimates cannot take the large steps the true gradient allows.  f* comes from ``cr.optim.LBFGS``.
On the left the distance to f* per step, on the right per evaluation of f, on the same budget
of 6000 evaluations.
"""
import numpy as np

from chainrule import dtypes
from chainrule.nn import BCEWithLogitsLoss, Linear
from chainrule.optim import LBFGS, SGD
from chainrule.optim.zeroth_order import estimate_grad
from chainrule.plot.figure import require_matplotlib
from chainrule.plot.optimizers import HeartProblem
from chainrule.random import Generator, manual_seed
from chainrule.tour._common import main, save

FILENAME = "11-zeroth-vs-first.png"
TITLE = "Zeroth- versus first-order: logistic regression on the heart data (29 parameters)"
BUDGET = 6000
METHODS = (("backprop (first order)", "backprop", 4.0, 2),
           ("central differences", "central", 4.0, None),
           ("SPSA, 1 direction", "spsa", 0.5, 2),
           ("Gaussian, 1 direction", "gaussian", 1.0, 2))


class Problem:
    """Logistic regression on the heart-disease training rows, in float64."""

    def __init__(self, seed=0):
        data = HeartProblem(seed)
        self.x, self.y = data.x_train.double(), data.y_train.double()
        self.n_features = data.n_features
        self.loss_fn = BCEWithLogitsLoss()
        self.seed = seed

    def model(self):
        manual_seed(self.seed)
        return Linear(self.n_features, 1, dtype=dtypes.float64)

    def loss(self, model):
        return self.loss_fn(model(self.x), self.y)

    def optimum(self):
        """f* by L-BFGS with a strong Wolfe line search."""
        model = self.model()
        opt = LBFGS(model.parameters(), lr=1, max_iter=500, tolerance_grad=1e-12,
                    tolerance_change=1e-15, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = self.loss(model)
            loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
        return self.loss(model).item()


def descend(problem, method, lr, evals_per_step, budget=BUDGET, seed=1):
    """SGD with gradients from *method* until *budget* evaluations: (evaluations, losses)."""
    model = problem.model()
    params = list(model.parameters())
    opt = SGD(params, lr=lr)
    gen = Generator().manual_seed(seed)
    if evals_per_step is None:   # central differences: two evaluations per parameter entry
        evals_per_step = 2 * sum(p.numel() for p in params)
    losses = [problem.loss(model).item()]
    for _ in range(budget // evals_per_step):
        opt.zero_grad()
        if method == "backprop":
            problem.loss(model).backward()
        else:
            estimate_grad(lambda: problem.loss(model), params, method=method, generator=gen)
        opt.step()
        losses.append(problem.loss(model).item())
    return np.arange(len(losses)) * evals_per_step, np.array(losses)


def make(out_dir):
    """Run the four methods on one budget and draw their convergence; returns the PNG path."""
    plt = require_matplotlib()
    problem = Problem()
    f_star = problem.optimum()
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 4.3), sharey=True)
    for label, method, lr, per_step in METHODS:
        evals, losses = descend(problem, method, lr, per_step)
        gap = np.maximum(losses - f_star, 1e-16)
        steps = np.arange(len(losses))
        text = f"{label}, η = {lr:g}"
        axes[0].loglog(steps[1:], gap[1:], lw=1.5, label=text)
        axes[1].loglog(evals[1:], gap[1:], lw=1.5, label=text)
    axes[0].set_xlabel("optimiser steps")
    axes[0].set_ylabel("f(θₖ) − f*   (training binary cross-entropy)")
    axes[0].set_title("per step: central differences = backprop; one random direction is noisy",
                      fontsize=9)
    axes[1].set_xlabel("evaluations of f (a backprop step counts 2)")
    axes[1].set_title(f"per evaluation, same budget of {BUDGET}: central differences pay 2n = "
                      f"{2 * (problem.n_features + 1)} a step", fontsize=9)
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(TITLE, fontsize=11)
    fig.tight_layout()
    return save(fig, out_dir, FILENAME)


if __name__ == "__main__":
    raise SystemExit(main(make))
