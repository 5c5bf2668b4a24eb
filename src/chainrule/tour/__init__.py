"""The guided tour: the lectures step by step, each step a script that ends in a figure.

Every figure is computed by chainrule — gradients by backprop, checks by finite differences,
optimisers by ``cr.optim`` — and drawn with matplotlib (``pip install chainrule[plot]``).

    chainrule tour --out tour                  # every step, one PNG each
    chainrule tour --out tour --only bce       # just some of them
    python -m chainrule.tour.chain_backprop    # one step as a script

Each step is a module with ``make(out_dir) -> path``; :data:`STEPS` lists them in the lectures'
order and :func:`make_all` runs them.
"""
from chainrule.errors import ConfigError
from chainrule.tour import (activations, attention_map, bce, chain_backprop, convnet, graph,
                            heart_curves, jacobian, landscape, minima_saddle, optimizer_paths,
                            quartic, step_sizes, vanishing_gradients, zeroth_vs_first)

_MODULES = (chain_backprop, graph, activations, bce, jacobian, quartic, step_sizes,
            optimizer_paths, minima_saddle, heart_curves, zeroth_vs_first, landscape,
            vanishing_gradients, attention_map, convnet)

STEPS = tuple(m.__name__.rsplit(".", 1)[1] for m in _MODULES)
"""The steps' names, in the lectures' order (each the name of a module of this package)."""


def step(name):
    """The module of the step called *name* (``chain_backprop`` or ``chain-backprop``).

    >>> from chainrule import tour
    >>> tour.step("chain-backprop").FILENAME
    '01-chain-backprop.png'
    """
    key = str(name).replace("-", "_")
    for module in _MODULES:
        if module.__name__.rsplit(".", 1)[1] == key:
            return module
    raise ConfigError(f"tour: no step named {name!r}; the steps are: {', '.join(STEPS)}")


def make_all(out_dir, only=None, on_done=None):
    """Run every step (or those named in *only*) and write their PNGs to *out_dir*.

    *on_done(name, path)* is called after each step.  Returns the paths written, in order.
    """
    names = list(STEPS) if not only else [step(n).__name__.rsplit(".", 1)[1] for n in only]
    paths = []
    for name in names:
        path = step(name).make(out_dir)
        paths.append(path)
        if on_done is not None:
            on_done(name, path)
    return paths


__all__ = ["STEPS", "make_all", "step"]
