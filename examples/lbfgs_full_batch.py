"""Full-batch training with SciPy's L-BFGS-B, in a few lines: ``cr.optim.minimize``.

The heart-disease network (inputs → 16 ReLU → 1 logit) is small enough that the whole training
set fits in one batch, so the loss (with an L2 penalty) is an ordinary deterministic function of
the weights, and a quasi-Newton method converges in a few hundred evaluations with no learning
rate to tune.
``cr.optim.minimize`` hands SciPy the loss and its gradient (one backward per call) over the
parameters joined into one float64 vector, and writes the solution back into the model.

    python examples/lbfgs_full_batch.py          (needs SciPy: pip install scipy)
"""
import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.datasets import load_heart_disease
from chainrule.metrics import accuracy_score
from chainrule.preprocessing import TabularPreprocessor, train_test_split


def main(maxiter=500, weight_decay=0.03, seed=0):
    data = load_heart_disease()
    X_tr, X_te, y_tr, y_te = train_test_split(data.data, data.target, test_size=0.25,
                                              stratify=data.target,
                                              generator=cr.Generator().manual_seed(seed))
    pre = TabularPreprocessor(data.feature_names, data.feature_kinds,
                              categories=data.categories).fit(X_tr)
    X, y = (cr.tensor(pre.transform(X_tr), dtype=cr.float64),
            cr.tensor(y_tr.reshape(-1, 1), dtype=cr.float64))
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(X.shape[1], 16), nn.ReLU(), nn.Linear(16, 1)).to(cr.float64)
    loss_fn = nn.BCEWithLogitsLoss()

    # the whole of training: one call
    def objective():
        penalty = sum((p ** 2).sum() for p in model.parameters())
        return loss_fn(model(X), y) + weight_decay / 2 * penalty

    result = cr.optim.minimize(objective, model.parameters(), method="L-BFGS-B",
                               options={"maxiter": maxiter})

    print(f"L-BFGS-B: {result.message}")
    print(f"  {result.nit} iterations, {result.nfev} loss+gradient evaluations, "
          f"final objective {result.fun:.4f}")
    with cr.no_grad():
        train_acc = accuracy_score(y_tr, (model(X).numpy().ravel() > 0).astype(int))
        X_test = cr.tensor(pre.transform(X_te), dtype=cr.float64)
        test_acc = accuracy_score(y_te, (model(X_test).numpy().ravel() > 0).astype(int))
    print(f"  training accuracy {train_acc:.3f}   test accuracy {test_acc:.3f}")
    return result


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
