"""Checks that every rank holds the same thing before a collective relies on it.

A collective on tensors of different shapes does not fail cleanly in MPI: it truncates, mixes
values or waits forever. So before broadcasting a model (or averaging its gradients for the first
time) the ranks exchange the names, shapes and dtypes of their tensors, and if any rank differs
from the root, every rank raises the same :class:`~chainrule.errors.ShapeError`, naming for each
differing rank the first parameter that does not match.
"""
from chainrule.distributed import world
from chainrule.errors import ShapeError
from chainrule.tensor import Tensor


def signature(pairs):
    """``[(name, shape, dtype name), ...]`` for ``(name, tensor or array)`` pairs."""
    out = []
    for name, t in pairs:
        arr = t._data if isinstance(t, Tensor) else t
        out.append((str(name), tuple(int(s) for s in arr.shape), str(arr.dtype)))
    return out


def _describe(entry):
    name, shape, dtype = entry
    return f"{name!r} (shape {shape}, {dtype})"


def first_difference(mine, root_entries, root):
    """The first way *mine* differs from rank *root*'s entries, in words; None if they agree."""
    for i, (a, b) in enumerate(zip(mine, root_entries)):
        if a == b:
            continue
        if a[0] != b[0]:
            return (f"entry {i} is {_describe(a)}, but rank {root} has {_describe(b)} there")
        what = "shape" if a[1] != b[1] else "dtype"
        return (f"parameter {a[0]!r} has {what} {a[1] if what == 'shape' else a[2]}, but on "
                f"rank {root} {b[1] if what == 'shape' else b[2]}")
    if len(mine) != len(root_entries):
        if len(mine) > len(root_entries):
            longer, who = mine, "it"
        else:
            longer, who = root_entries, f"rank {root}"
        return (f"it has {len(mine)} entries and rank {root} has {len(root_entries)}; the first "
                f"one only {who} has is {_describe(longer[min(len(mine), len(root_entries))])}")
    return None


def check_same_layout(fn, entries, root=0):
    """Raise ShapeError on every rank if any rank's *entries* differ from rank *root*'s.

    Collective: every rank must call it. The message names, for each rank that differs, the first
    mismatching parameter.
    """
    comm = world.comm()
    every = comm.allgather(entries)
    problems = []
    for r, mine in enumerate(every):
        if r != root:
            diff = first_difference(mine, every[root], root)
            if diff is not None:
                problems.append(f"rank {r}: {diff}")
    if problems:
        raise ShapeError(f"{fn}: the ranks hold different models, so their tensors cannot be "
                         f"matched up; build the same model on every rank. " + "; ".join(problems))


def agree(fn, error, kind):
    """Collective: if *error* (an exception, or None) happened on any rank, raise *kind* on every
    rank with every rank's message, so that no rank goes on alone into the next collective."""
    comm = world.comm()
    text = None if error is None else f"{type(error).__name__}: {error}"
    failed = [f"rank {r}: {t}" for r, t in enumerate(comm.allgather(text)) if t is not None]
    if failed:
        raise kind(f"{fn} failed: " + "; ".join(failed)) from error
