"""Step 12 — a loss landscape: the trained heart-disease network's loss around its weights.

A network has hundreds of weights, so its loss cannot be drawn; a slice of it can.  Around the
trained weights θ* the loss is evaluated on the plane θ* + α·δ + β·η, where δ and η are random
directions rescaled filter by filter to the size of the weights they perturb (Li et al., 2018),
so that the picture does not depend on how each layer happens to be scaled.  The network is the
heart model (inputs → 16 ReLU → 1) trained for 30 epochs of Adam; the loss is the training
binary cross-entropy.  The figure is :func:`chainrule.plot.loss_landscape` (also
``chainrule plot landscape``).
"""
from chainrule.data import DataLoader, TensorDataset
from chainrule.nn import BCEWithLogitsLoss
from chainrule.optim import Adam
from chainrule.plot.landscape import loss_landscape
from chainrule.plot.optimizers import HeartProblem
from chainrule.random import Generator, manual_seed
from chainrule.tour._common import figure_path, main
from chainrule.training import train_epoch

FILENAME = "12-landscape.png"
TITLE = "A loss landscape: the trained heart-disease network along two random directions"
EPOCHS = 30


def trained_network(seed=0, epochs=EPOCHS):
    """(problem, model, loss function) after *epochs* of mini-batch Adam on the heart data."""
    problem = HeartProblem(seed)
    manual_seed(seed)
    model = problem.network()
    loss_fn = BCEWithLogitsLoss()
    opt = Adam(model.parameters(), lr=0.01)
    loader = DataLoader(TensorDataset(problem.x_train, problem.y_train), batch_size=32,
                        shuffle=True, generator=Generator().manual_seed(seed))
    for _ in range(epochs):
        train_epoch(model, loss_fn, opt, loader)
    return problem, model, loss_fn


def make(out_dir, seed=0):
    """Train, then draw the landscape around the trained weights; returns the PNG path."""
    problem, model, loss_fn = trained_network(seed)
    return loss_landscape(model, lambda: loss_fn(model(problem.x_train), problem.y_train),
                          figure_path(out_dir, FILENAME), steps=25, span=1.0,
                          generator=Generator().manual_seed(seed + 1),
                          title=f"heart-disease network ({problem.n_features} → 16 ReLU → 1) "
                                f"after {EPOCHS} epochs of Adam: training loss on "
                                "θ* + α·δ + β·η (filter-normalised δ, η)")


if __name__ == "__main__":
    raise SystemExit(main(make))
