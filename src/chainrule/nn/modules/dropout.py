"""``Dropout``: random zeroing in training mode, the identity in evaluation mode."""
from chainrule.nn.functional.dropout import _check_p, dropout
from chainrule.nn.modules.module import Module


class Dropout(Module):
    """In training, zero each element with probability *p* and scale the rest by 1/(1-p);
    in ``eval()`` mode, y = x.

    >>> d = cr.nn.Dropout(0.5).eval()
    >>> d(cr.ones(3))
    tensor([1., 1., 1.])
    """

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        _check_p(p)
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
