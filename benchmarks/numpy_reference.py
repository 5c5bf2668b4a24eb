"""A hand-written NumPy training step: the bar chainrule is measured against.

One step of an MLP (``Linear`` layers with ReLU between them) on a fixed-size batch: forward,
loss (BCE-with-logits or softmax cross-entropy, mean over the batch), backward, and
``torch.optim.Adam(lr=1e-3)``'s update, all float32, with no autograd and no framework.

It is written to be as fast as plain NumPy allows, so that the ratio chainrule/NumPy measures
framework overhead and nothing else:

* every array is allocated once; every ufunc and matmul writes into a preallocated buffer
  (``out=``), so a step allocates (almost) nothing;
* the parameters, gradients and Adam's two moments each live in one flat float32 buffer; the
  layers' ``W``/``b`` (and ``dW``/``db``) are views into it, and the matmuls of the backward pass
  write the gradients straight into those views (so "zero_grad" costs nothing: every gradient
  is overwritten, never accumulated);
* Adam runs over the flat buffers in L2-sized chunks (64 Ki elements, ~5 arrays x 256 KiB),
  so the ten passes it makes over each chunk hit cache instead of main memory;
* Adam keeps its moments pre-scaled (``n = m / (1 - beta1)``, ``u = v / (1 - beta2)``), which
  is the same arithmetic as ``torch.optim.Adam`` in exact arithmetic with two fewer passes:
  ``n = beta1 n + g``; ``u = beta2 u + g^2``;
  ``p -= lr (1-beta1)/bc1 * sqrt(bc2/(1-beta2)) * n / (sqrt(u) + eps sqrt(bc2/(1-beta2)))``,
  where ``bc_i = 1 - beta_i^t``;
* ReLU uses ``np.maximum`` against a preallocated zero array of the same shape (NumPy's
  fastest path; a 0-d zero is ~3x slower for float32 here), and its backward multiplies by the
  boolean mask ``a > 0``;
* the first layer's input gradient is never computed (the input needs none).

``matmul_only`` runs the step's matrix multiplies and nothing else (forward ``x @ W.T`` per layer;
backward ``dz.T @ a`` per layer and ``dz @ W`` for every layer but the first), into the same
buffers: the floor any framework could reach with NumPy's BLAS.
"""
import math

import numpy as np

from configs import BETAS, DTYPE, EPS, LR

_CHUNK = 65536


class NumpyMLP:
    """A ``sizes``-shaped MLP trained by hand-written NumPy; ``step(x, y)`` returns the loss."""

    def __init__(self, cfg, weights, lr=LR, betas=BETAS, eps=EPS):
        self.cfg = cfg
        self.lr, self.beta1, self.beta2, self.eps = lr, betas[0], betas[1], eps
        self.t = 0
        sizes, B = cfg.sizes, cfg.batch
        L = len(sizes) - 1
        self.L = L
        n = cfg.n_params
        self.p = np.empty(n, DTYPE)      # parameters
        self.g = np.empty(n, DTYPE)      # gradients
        self.n = np.zeros(n, DTYPE)      # first moment / (1 - beta1)
        self.u = np.zeros(n, DTYPE)      # second moment / (1 - beta2)
        self.tmp = np.empty(min(n, _CHUNK), DTYPE)
        self.W, self.WT, self.b, self.dW, self.db = [], [], [], [], []
        off = 0
        for (Wi, bi), fi, fo in zip(weights, sizes[:-1], sizes[1:]):
            assert Wi.shape == (fo, fi) and bi.shape == (fo,)
            W = self.p[off:off + fo * fi].reshape(fo, fi)
            dW = self.g[off:off + fo * fi].reshape(fo, fi)
            off += fo * fi
            b = self.p[off:off + fo]
            db = self.g[off:off + fo]
            off += fo
            W[...] = Wi
            b[...] = bi
            self.W.append(W)
            self.WT.append(W.T)
            self.b.append(b)
            self.dW.append(dW)
            self.db.append(db)
        assert off == n
        # activations: Z[i] holds layer i's pre-activation, then (in place) its ReLU output
        self.Z = [np.empty((B, fo), DTYPE) for fo in sizes[1:]]
        self.zeros = [np.zeros((B, fo), DTYPE) for fo in sizes[1:]]
        self.mask = [np.empty((B, fo), np.bool_) for fo in sizes[1:]]
        self.D = [np.empty((B, fo), DTYPE) for fo in sizes[1:]]   # dLoss/dZ[i]
        self.invB = DTYPE(1.0 / B)
        C = sizes[-1]
        self.rows = np.arange(B)
        if cfg.loss == "ce":
            self.mx = np.empty(B, DTYPE)
            self.s = np.empty(B, DTYPE)
            self.ls = np.empty(B, DTYPE)
        else:
            assert C == 1
            self.t1 = np.empty((B, 1), DTYPE)
            self.t2 = np.empty((B, 1), DTYPE)

    # ---- loss: returns the loss and writes dLoss/dlogits into D[-1] ---------------------------
    def _ce(self, logits, y):
        mx, s, ls, E = self.mx, self.s, self.ls, self.D[-1]
        np.max(logits, axis=1, out=mx)
        np.subtract(logits, mx[:, None], out=E)
        np.exp(E, out=E)
        np.sum(E, axis=1, out=s)
        np.log(s, out=ls)
        ls += mx
        ls -= logits[self.rows, y]
        loss = np.add.reduce(ls) * self.invB
        s *= self.cfg.batch                         # softmax / B, minus onehot / B
        np.divide(E, s[:, None], out=E)
        E[self.rows, y] -= self.invB
        return loss

    def _bce(self, z, y):
        t1, t2, D = self.t1, self.t2, self.D[-1]
        np.logaddexp(self.zeros[-1], z, out=t1)       # softplus(z); loss_i = softplus(z) - z y
        loss = (np.add.reduce(t1, axis=None) - np.vdot(z, y)) * self.invB
        np.subtract(z, t1, out=t2)                    # z - softplus(z) = log(sigmoid(z)) <= 0
        np.exp(t2, out=t2)                            # sigmoid(z), without overflow
        np.subtract(t2, y, out=D)
        D *= self.invB
        return loss

    # ---- one training step ----------------------------------------------------------------------
    def step(self, x, y):
        Z, WT, b, W, zeros, mask, D = self.Z, self.WT, self.b, self.W, self.zeros, self.mask, self.D
        L = self.L
        matmul, maximum, greater, multiply = np.matmul, np.maximum, np.greater, np.multiply
        h = x
        for i in range(L):
            z = Z[i]
            matmul(h, WT[i], out=z)
            z += b[i]
            if i < L - 1:
                maximum(z, zeros[i], out=z)
            h = z
        loss = self._ce(h, y) if self.cfg.loss == "ce" else self._bce(h, y)
        dW, db = self.dW, self.db
        for i in range(L - 1, -1, -1):
            d = D[i]
            matmul(d.T, Z[i - 1] if i else x, out=dW[i])
            np.add.reduce(d, axis=0, out=db[i])
            if i:
                dp = D[i - 1]
                matmul(d, W[i], out=dp)
                greater(Z[i - 1], zeros[i - 1], out=mask[i - 1])
                multiply(dp, mask[i - 1], out=dp)
        self._adam()
        return loss

    def _adam(self):
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        bc1 = 1.0 - b1 ** self.t
        k = math.sqrt((1.0 - b2 ** self.t) / (1.0 - b2))      # sqrt(bc2 / (1 - beta2))
        e = self.eps * k
        scale = -self.lr * (1.0 - b1) / bc1 * k
        p, g, n, u, tmp = self.p, self.g, self.n, self.u, self.tmp
        mul, add, sqrt, div = np.multiply, np.add, np.sqrt, np.divide
        N = p.size
        for s in range(0, N, _CHUNK):
            t = min(N, s + _CHUNK)
            P, G, M, V, T = p[s:t], g[s:t], n[s:t], u[s:t], tmp[:t - s]
            mul(M, b1, out=M)
            add(M, G, out=M)
            mul(V, b2, out=V)
            mul(G, G, out=T)
            add(V, T, out=V)
            sqrt(V, out=T)
            add(T, e, out=T)
            div(M, T, out=T)
            mul(T, scale, out=T)
            add(P, T, out=P)

    # ---- the step's matrix multiplies alone -----------------------------------------------------
    def matmul_only(self, x):
        Z, WT, W, D, dW = self.Z, self.WT, self.W, self.D, self.dW
        matmul = np.matmul
        h = x
        for i in range(self.L):
            matmul(h, WT[i], out=Z[i])
            h = Z[i]
        for i in range(self.L - 1, -1, -1):
            matmul(D[i].T, Z[i - 1] if i else x, out=dW[i])
            if i:
                matmul(D[i], W[i], out=D[i - 1])

    def weights(self):
        """Copies of the current ``(W, b)`` per layer."""
        return [(W.copy(), b.copy()) for W, b in zip(self.W, self.b)]


def make(cfg, weights):
    """The NumPy reference model and its step function ``step(x, y) -> loss``."""
    model = NumpyMLP(cfg, weights)
    return model, model.step
