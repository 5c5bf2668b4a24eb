"""PyTorch's first steps, run by chainrule: a clothing classifier, its layers, and autograd.

Programs written anew in the habits of PyTorch's "Quickstart", "Build the Neural Network" and
"Automatic Differentiation" tutorials.  FashionMNIST is replaced by generated images of the same
shape (1 × 28 × 28, values in [0, 1], ten classes), so nothing is downloaded.  Only the imports
name chainrule: with ``import torch`` / ``from torch ...`` instead, the file runs on PyTorch and
gives the same losses from the same weights (tests/examples/test_pytorch_habits_examples.py).

Run the file to train for a few epochs and see the printouts.
"""
import os
import tempfile

import numpy as np

import chainrule as torch
from chainrule import nn
from chainrule.utils.data import DataLoader, TensorDataset

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


def fashion_like(n, seed=0):
    """*n* images shaped like FashionMNIST's with a learnable label: class k brightens the band
    of rows 2k+4 .. 2k+7, over uniform noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.random((n, 1, 28, 28), dtype=np.float32) * 0.6
    for k in range(10):
        images[labels == k, 0, 2 * k + 4:2 * k + 8, :] += 0.4
    return TensorDataset(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)))


def pick_device():
    return torch.accelerator.current_accelerator().type if torch.accelerator.is_available() \
        else "cpu"


class NeuralNetwork(nn.Module):
    """Flatten, then three linear layers with ReLU between them: 784 → 512 → 512 → 10 logits."""

    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


def train(dataloader, model, loss_fn, optimizer, device, log_every=100):
    size = len(dataloader.dataset)
    model.train()
    logged = []
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % log_every == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")
            logged.append(loss)
    return logged


def test(dataloader, model, loss_fn, device):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
    return test_loss, correct


def quickstart(epochs=5, n_train=2048, n_test=512, batch_size=64, init=None, log_every=10):
    """Train the classifier with SGD, test it after each epoch, save and reload its weights,
    and predict one test image.  *init*: a state dict of arrays to start from."""
    training_data, test_data = fashion_like(n_train, seed=1), fashion_like(n_test, seed=2)
    train_dataloader = DataLoader(training_data, batch_size=batch_size)
    test_dataloader = DataLoader(test_data, batch_size=batch_size)
    for X, y in test_dataloader:
        print(f"Shape of X [N, C, H, W]: {X.shape}")
        print(f"Shape of y: {y.shape} {y.dtype}")
        break

    device = pick_device()
    print(f"Using {device} device")
    model = NeuralNetwork().to(device)
    if init is not None:
        model.load_state_dict({k: torch.tensor(v) for k, v in init.items()})
    print(model)

    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    history = {"train": [], "test": []}
    for t in range(epochs):
        print(f"Epoch {t + 1}\n-------------------------------")
        history["train"] += train(train_dataloader, model, loss_fn, optimizer, device, log_every)
        history["test"].append(test(test_dataloader, model, loss_fn, device))
    print("Done!")

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.pth")
        torch.save(model.state_dict(), path)
        print("Saved PyTorch Model State to model.pth")
        model = NeuralNetwork().to(device)
        model.load_state_dict(torch.load(path, weights_only=True))

    model.eval()
    x, y = test_data[0][0], test_data[0][1]
    with torch.no_grad():
        x = x.to(device)
        pred = model(x)
        predicted, actual = CLASSES[pred[0].argmax(0)], CLASSES[y]
        print(f'Predicted: "{predicted}", Actual: "{actual}"')
    history["prediction"] = (predicted, actual)
    return history


def build_model(init=None, X=None):
    """The model's layers one by one: Flatten, Linear, ReLU, Sequential, Softmax, parameters."""
    device = pick_device()
    model = NeuralNetwork().to(device)
    if init is not None:
        model.load_state_dict({k: torch.tensor(v) for k, v in init.items()})
    print(model)

    X = torch.rand(1, 28, 28, device=device) if X is None else torch.tensor(X, device=device)
    logits = model(X)
    pred_probab = nn.Softmax(dim=1)(logits)
    y_pred = pred_probab.argmax(1)
    print(f"Predicted class: {y_pred}")

    input_image = torch.rand(3, 28, 28)
    print(input_image.size())
    flatten = nn.Flatten()
    flat_image = flatten(input_image)
    print(flat_image.size())
    layer1 = nn.Linear(in_features=28 * 28, out_features=20)
    hidden1 = layer1(flat_image)
    print(hidden1.size())
    print(f"Before ReLU: {hidden1}\n\n")
    hidden1 = nn.ReLU()(hidden1)
    print(f"After ReLU: {hidden1}")

    seq_modules = nn.Sequential(flatten, layer1, nn.ReLU(), nn.Linear(20, 10))
    input_image = torch.rand(3, 28, 28)
    seq_logits = seq_modules(input_image)
    softmax = nn.Softmax(dim=1)
    seq_probab = softmax(seq_logits)

    print(f"Model structure: {model}\n\n")
    for name, param in model.named_parameters():
        print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2]} \n")
    return {"probabilities": pred_probab.detach().numpy(), "class": y_pred.item(),
            "shapes": [tuple(flat_image.shape), tuple(hidden1.shape), tuple(seq_probab.shape)],
            "rows_sum_to_one": seq_probab.sum(1).detach().numpy()}


def automatic_differentiation(w=None, b=None):
    """Gradients of a one-layer logistic model, no_grad and detach, and Jacobian products with
    gradients accumulating over backward calls."""
    x = torch.ones(5)
    y = torch.zeros(3)
    w = torch.randn(5, 3, requires_grad=True) if w is None else torch.tensor(w, requires_grad=True)
    b = torch.randn(3, requires_grad=True) if b is None else torch.tensor(b, requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    print(f"Gradient function for z = {z.grad_fn}")
    print(f"Gradient function for loss = {loss.grad_fn}")
    loss.backward()
    print(w.grad)
    print(b.grad)

    z = torch.matmul(x, w) + b
    print(z.requires_grad)
    with torch.no_grad():
        z = torch.matmul(x, w) + b
    print(z.requires_grad)
    z = torch.matmul(x, w) + b
    z_det = z.detach()
    print(z_det.requires_grad)

    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    first = inp.grad.clone()
    print(f"First call\n{inp.grad}")
    out.backward(torch.ones_like(out), retain_graph=True)
    second = inp.grad.clone()
    print(f"\nSecond call\n{inp.grad}")
    inp.grad.zero_()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\nCall after zeroing gradients\n{inp.grad}")
    return {"loss": loss.item(), "w_grad": w.grad.numpy(), "b_grad": b.grad.numpy(),
            "jacobian_products": [first.numpy(), second.numpy(), inp.grad.numpy()]}


if __name__ == "__main__":
    torch.manual_seed(0)
    quickstart()
    build_model()
    automatic_differentiation()
