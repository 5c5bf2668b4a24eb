import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.data import DataLoader, TensorDataset
from chainrule.training import evaluate_loss, predict, train_epoch, train_step


def _problem():
    cr.manual_seed(0)
    x = cr.randn(64, 3)
    y = (x._data @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32) > 0).astype(np.float32)
    return x, cr.tensor(y)


def test_train_step_is_forward_backward_step():
    x, y = _problem()
    model = nn.Linear(3, 1)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    w0, b0 = model.weight.detach().clone(), model.bias.detach().clone()
    expected = nn.functional.binary_cross_entropy_with_logits(x @ w0.T + b0, y).item()
    loss = train_step(model, nn.BCEWithLogitsLoss(), opt, x, y)
    assert isinstance(loss, float)
    assert loss == pytest.approx(expected, rel=1e-6)       # the loss before the step
    assert not np.allclose(model.weight._data, w0._data)     # the step moved the weights


def test_train_epoch_lowers_the_loss_and_visits_every_batch():
    x, y = _problem()
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
    loss_fn = nn.BCEWithLogitsLoss()
    opt = cr.optim.Adam(model.parameters(), lr=0.05)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True,
                        generator=cr.Generator().manual_seed(0))
    seen = []
    before = evaluate_loss(model, loss_fn, x, y)
    for _ in range(20):
        train_epoch(model, loss_fn, opt, loader, on_batch=lambda i, l: seen.append(i))
    assert evaluate_loss(model, loss_fn, x, y) < 0.5 * before
    assert seen[:4] == [0, 1, 2, 3] and len(seen) == 80


def test_penalty_is_added_to_the_trained_loss():
    x, y = _problem()
    model = nn.Linear(3, 1)
    opt = cr.optim.SGD(model.parameters(), lr=0.0)
    calls = []

    def penalty():
        calls.append(1)
        return (model.weight ** 2).sum() * 0.01
    train_step(model, nn.BCEWithLogitsLoss(), opt, x, y, penalty=penalty)
    assert calls and model.weight.grad is not None


def test_predict_builds_no_graph_and_batches():
    x, _ = _problem()
    model = nn.Linear(3, 2)
    out = predict(model, x, batch_size=10)
    assert out.shape == (64, 2) and out.grad_fn is None
    np.testing.assert_allclose(out._data, predict(model, x)._data, rtol=1e-6)


def test_empty_loader_is_a_clear_error():
    model = nn.Linear(3, 1)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="no batches"):
        train_epoch(model, nn.MSELoss(), opt, [])
