"""``Dropout1d`` and ``Dropout2d``: zero whole channels in training, the identity in ``eval()``."""
from chainrule.nn.functional.channel_dropout import dropout1d, dropout2d
from chainrule.nn.functional.dropout import _check_p
from chainrule.nn.modules.module import Module


class Dropout1d(Module):
    """In training, zero each channel of (N, C, L) input with probability *p*, scale the rest by
    1/(1-p).

    >>> cr.nn.Dropout1d(0.5).eval()(cr.ones(1, 2, 3)).sum()
    tensor(6.)
    """

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        _check_p(p)
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return dropout1d(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout1d):
    """In training, zero each feature map of (N, C, H, W) input with probability *p*, scale the
    rest by 1/(1-p) (spatial dropout).

    >>> cr.nn.Dropout2d(0.5).eval()(cr.ones(1, 2, 3, 3)).sum()
    tensor(18.)
    """

    def forward(self, input):
        return dropout2d(input, self.p, self.training)
