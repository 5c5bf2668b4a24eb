"""Tracing the array calls inside the ops: proxies that record every NumPy call made on them.

While a step is traced, each array an op computes with is a :class:`Proxy` around the real
NumPy array.  The op's code runs unchanged (``ctx.xp`` is still NumPy's namespace): operators,
methods, indexing and NumPy functions reach the proxy through Python's operator protocol and
NumPy's ``__array_ufunc__``/``__array_function__``, and each one is computed on the real arrays
and appended to :attr:`Tracer.calls` as ``(fn, args, kwargs, out)`` with arguments named by
slot (``("s", k)``), step input (``("in", i)``) or constant (``("k", value)``).  So the traced
run *is* the step (real values, real side effects), and its calls are the flat plan.

What a flat list of calls cannot reproduce poisons the trace (:attr:`Tracer.reason`) but the
run goes on with the real values, so the step's result stays right and the plan falls back:
a value read in Python (``float(a)``, ``bool(a)``, ``a.item()``, ``if a > 0:``), an array made
outside the traced calls and mixed in (unless it is read-only, a constant), an attribute that
exposes memory (``a.base``, ``a.flags``).
"""
import operator

import numpy as np

from chainrule.backend import namespace as _ns
from chainrule.backend import numpy_namespace

_STATIC = frozenset(("shape", "ndim", "dtype", "size", "itemsize", "nbytes"))
"""Attributes fixed by the guards (shape, dtype): read as constants."""
_METHODS = frozenset((
    "reshape", "astype", "sum", "mean", "max", "min", "prod", "transpose", "copy", "ravel",
    "flatten", "view", "squeeze", "swapaxes", "clip", "argmax", "argmin", "any", "all",
    "cumsum", "cumprod", "fill", "dot", "round", "conj", "std", "var", "take", "repeat",
    "__array_namespace__", "nonzero", "sort", "argsort", "put", "__getitem__", "__setitem__"))
"""Array methods recorded as calls (``a.reshape(s)`` becomes ``ndarray.reshape(a, s)``)."""
_SHAPE_FUNCS = frozenset((np.shape, np.ndim, np.size, np.result_type, np.can_cast))
"""NumPy functions whose result depends only on shapes and dtypes (constants under the guards)."""
_CREATE = ("zeros", "ones", "empty", "full", "arange", "asarray", "array", "eye", "zeros_like",
           "ones_like", "empty_like", "full_like")
"""Namespace functions that make arrays from Python values: traced while an op runs."""

BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide,
          "floordiv": np.floor_divide, "mod": np.remainder, "matmul": np.matmul,
          "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
          "eq": np.equal, "ne": np.not_equal, "and_": np.bitwise_and, "or_": np.bitwise_or,
          "xor": np.bitwise_xor}
"""Python operators and the ufunc an ndarray operand hands them to (``**`` is left out: NumPy
takes fast paths for some exponents)."""
OPERATOR_FN = {getattr(operator, n): u for n, u in BINARY.items()}
SYMBOL = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/",
          operator.floordiv: "//", operator.mod: "%", operator.matmul: "@", operator.pow: "**",
          operator.lt: "<", operator.le: "<=", operator.gt: ">", operator.ge: ">=",
          operator.eq: "==", operator.ne: "!=", operator.and_: "&", operator.or_: "|",
          operator.xor: "^"}
INPLACE = {operator.iadd: "+=", operator.isub: "-=", operator.imul: "*=",
           operator.itruediv: "/=", operator.ifloordiv: "//=", operator.imod: "%=",
           operator.ipow: "**=", operator.imatmul: "@=", operator.iand: "&=",
           operator.ior: "|=", operator.ixor: "^="}
UNARY = {operator.neg: "-", operator.pos: "+", operator.invert: "~", operator.abs: "abs"}


class Ref:
    """A value the trace names without a proxy (a step input, a tensor): ``spec`` says how a
    replay finds it, ``value`` is it."""

    __slots__ = ("spec", "value")

    def __init__(self, spec, value):
        self.spec, self.value = spec, value


def get_T(a):
    """``a.T`` as a call."""
    return a.T


class Draw:
    """A random draw from a chainrule generator's NumPy ``Generator``, looked up at each call
    (``cr.manual_seed`` gives the generator a new one)."""

    __slots__ = ("gen", "name")

    def __init__(self, gen, name):
        self.gen, self.name = gen, name

    def __call__(self, *args, **kwargs):
        r = self.gen.rng
        if type(r) is _TracedRNG:
            r = r.real
        return getattr(r, self.name)(*args, **kwargs)

    def __repr__(self):
        return f"rng.{self.name}"


class _TracedRNG:
    """Stands for ``generator.rng`` while tracing: each draw is a recorded call."""

    def __init__(self, tracer, gen):
        self.tracer, self.gen, self.real = tracer, gen, gen.rng

    def __getattr__(self, name):
        if name in ("random", "standard_normal", "normal", "uniform", "integers", "binomial",
                    "bernoulli", "permutation", "exponential"):
            fn = Draw(self.gen, name)
            return lambda *a, **k: self.tracer.call(fn, a, k)
        self.tracer.poison(f"the step uses generator.rng.{name}, which a plan cannot replay")
        return getattr(self.real, name)


class Tracer:
    """The calls of one traced run and what each slot is."""

    def __init__(self):
        self.calls = []          # ("call", fn, args, kwargs, out) | other entries (flat_plan)
        self.n = 0
        self.reason = None
        self.by_id = {}          # id(real value) -> its proxy
        self.keep = []           # every traced value stays alive: ids stay unique
        self.links = {}          # slot -> slots whose memory it may share (views), and
        #                          ("base", id) of the array that owns its memory
        self.fresh = {}          # slot -> the real array, where a call made it fresh
        self.values = {}         # slot -> its real value (as first made)
        self._patched = []

    def poison(self, why):
        if self.reason is None:
            self.reason = why

    def new(self, real):
        p = Proxy(real, self.n, self)
        self.values[self.n] = real
        self.n += 1
        if type(real) is np.ndarray:    # NumPy scalars may be shared objects (np.True_)
            self.by_id[id(real)] = p
        self.keep.append(real)
        return p

    def proxy_of(self, real, fn, args, kwargs):
        """A traced call's result *real* as a proxy (or a tuple of them)."""
        if isinstance(real, (np.ndarray, np.generic)):
            p = self.by_id.get(id(real)) if type(real) is np.ndarray else None
            if p is not None and p._a is real:
                return p
            if isinstance(real, np.ndarray) and type(real) is not np.ndarray:
                self.poison(f"{getattr(fn, '__name__', fn)} returned a {type(real).__name__}")
            p = self.new(real)
            if type(real) is np.ndarray:
                if real.base is None:
                    self.fresh[p._s] = real
                else:               # a view: of an argument, or of memory made inside
                    self.links[p._s] = [q._s for q in _proxies((args, kwargs))
                                        if type(q._a) is np.ndarray
                                        and np.may_share_memory(real, q._a)] + [
                                            ("base", id(real.base))]
            return p
        if type(real) is tuple or type(real) is list:
            return type(real)(self.proxy_of(r, fn, args, kwargs) for r in real)
        if real is None or fn in _SHAPE_FUNCS:
            return real
        self.poison(f"{getattr(fn, '__name__', fn)} returned a {type(real).__name__}, "
                    f"a value outside the arrays")
        return real

    def call(self, fn, args, kwargs):
        """Run ``fn`` on the real values behind *args*; record it; return proxies."""
        eargs = tuple([self.enc(a) for a in args])
        ekw = {k: self.enc(v) for k, v in kwargs.items()}
        real = fn(*[_real(a) for a in args], **{k: _real(v) for k, v in kwargs.items()})
        out = self.proxy_of(real, fn, args, kwargs)
        self.calls.append(("call", fn, eargs, ekw, _slots(out)))
        return out

    def enc(self, v):
        """How a replay finds argument *v*."""
        t = type(v)
        if t is Proxy:
            if v._t is not self:
                self.poison("a value from another trace")
            return ("s", v._s)
        if t is Ref:
            return v.spec
        if t is tuple or t is list:
            return ("seq", t, tuple([self.enc(x) for x in v]))
        if t is dict:
            return ("dict", tuple([(k, self.enc(x)) for k, x in v.items()]))
        if t is np.ndarray and v.flags.writeable:
            self.poison(f"an array of shape {v.shape} made outside the traced calls is used")
        elif t is _TracedRNG:
            self.poison("a generator is passed to a NumPy function")
        return ("k", v)

    # ---- while an op runs: NumPy's namespace makes traced arrays too --------------------
    def patch(self, generators=()):
        self._patched = []
        for name in _CREATE:
            orig = numpy_namespace.__dict__.get(name)
            if orig is not None:
                self._patched.append((numpy_namespace, name, orig))
                setattr(numpy_namespace, name, self._creator(orig))
        for g in generators:
            if type(g.rng) is not _TracedRNG:
                self._patched.append((g, "rng", g.rng))
                g.rng = _TracedRNG(self, g)
        _ns._BY_TYPE[Proxy] = numpy_namespace

    def unpatch(self):
        _ns._BY_TYPE.pop(Proxy, None)
        for obj, name, orig in reversed(self._patched):
            if name == "rng":
                if type(obj.rng) is _TracedRNG:
                    obj.rng = orig
            else:
                setattr(obj, name, orig)
        self._patched = []

    def _creator(self, fn):
        def make(*args, **kwargs):
            if fn is np.asarray and args and type(args[0]) is Proxy and not kwargs \
                    and len(args) == 1:
                return args[0]
            return self.call(fn, args, kwargs)
        return make


class _Flags:
    """``a.flags`` while tracing: the memory layout (fixed by the same calls on the same shapes,
    and kept by the buffers) reads as a constant; anything else poisons the trace."""

    __slots__ = ("_f", "_t")
    _LAYOUT = frozenset(("c_contiguous", "f_contiguous", "contiguous", "writeable",
                         "C_CONTIGUOUS", "F_CONTIGUOUS", "WRITEABLE"))

    def __init__(self, tracer, flags):
        self._t, self._f = tracer, flags

    def __getattr__(self, name):
        if name not in self._LAYOUT:
            self._t.poison(f"the array flag .flags.{name} cannot be traced")
        return getattr(self._f, name)

    def __getitem__(self, name):
        return self.__getattr__(name)


def _real(v):
    t = type(v)
    if t is Proxy:
        return v._a
    if t is Ref:
        return v.value
    if t is tuple or t is list:
        return t(_real(x) for x in v)
    if t is dict:
        return {k: _real(x) for k, x in v.items()}
    return v


def _proxies(v):
    t = type(v)
    if t is Proxy:
        yield v
    elif t is tuple or t is list:
        for x in v:
            yield from _proxies(x)
    elif t is dict:
        for x in v.values():
            yield from _proxies(x)


def _slots(out):
    if type(out) is Proxy:
        return out._s
    if type(out) is tuple or type(out) is list:
        return tuple(_slots(o) for o in out)
    return None


# ---- the proxy ---------------------------------------------------------------------------------
def _binary(fn):
    def op(self, other):
        return self._t.call(fn, (self, other), {})
    return op


def _reflected(fn):
    def op(self, other):
        return self._t.call(fn, (other, self), {})
    return op


def _unary(fn):
    def op(self):
        return self._t.call(fn, (self,), {})
    return op


def _escape(name, conv):
    def op(self, *args, **kwargs):
        self._t.poison(f"{name} reads an array's value in Python (the plan cannot branch on it)")
        return conv(self._a, *args, **kwargs)
    return op


class Proxy:
    """An array while a step is traced: computes on the real array ``_a`` and records the call."""

    __slots__ = ("_a", "_s", "_t")
    __array_priority__ = 1e6
    __hash__ = None

    def __init__(self, real, slot, tracer):
        self._a, self._s, self._t = real, slot, tracer

    @property
    def __class__(self):
        """The real value's class, so that ``isinstance(a, np.ndarray)`` (or ``np.generic``) in
        an op takes the branch it takes eagerly (``type(a)`` is still :class:`Proxy`)."""
        return type(self._a)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        return self._t.call(fn, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return self._t.call(func, args, kwargs)

    def __getattr__(self, name):
        real = self._a
        if name in _STATIC:
            return getattr(real, name)
        if name == "T":
            return self._t.call(get_T, (self,), {})
        if name == "flags":
            return _Flags(self._t, real.flags)
        if name in _METHODS:
            method = getattr(type(real), name)
            return lambda *a, **k: self._t.call(method, (self, *a), k)
        self._t.poison(f"the array attribute .{name} cannot be traced")
        return getattr(real, name)

    def __getitem__(self, key):
        return self._t.call(operator.getitem, (self, key), {})

    def __setitem__(self, key, value):
        self._t.call(operator.setitem, (self, key, value), {})

    def __len__(self):
        return len(self._a)

    def __repr__(self):
        return f"Proxy(slot {self._s}, {self._a!r})"

    __bool__ = _escape("bool()", bool)
    __float__ = _escape("float()", float)
    __int__ = _escape("int()", int)
    __index__ = _escape("an index", operator.index)
    __complex__ = _escape("complex()", complex)
    __iter__ = _escape("iterating", iter)
    __contains__ = _escape("in", operator.contains)
    __array__ = _escape("np.asarray()", lambda a, dtype=None, copy=None: np.asarray(a, dtype=dtype))
    item = _escape(".item()", lambda a, *args: a.item(*args))
    tolist = _escape(".tolist()", lambda a: a.tolist())


for _name, _fn in [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                   ("truediv", operator.truediv), ("floordiv", operator.floordiv),
                   ("mod", operator.mod), ("pow", operator.pow), ("matmul", operator.matmul),
                   ("and", operator.and_), ("or", operator.or_), ("xor", operator.xor)]:
    setattr(Proxy, f"__{_name}__", _binary(_fn))
    setattr(Proxy, f"__r{_name}__", _reflected(_fn))
for _name, _fn in [("lt", operator.lt), ("le", operator.le), ("gt", operator.gt),
                   ("ge", operator.ge), ("eq", operator.eq), ("ne", operator.ne)]:
    setattr(Proxy, f"__{_name}__", _binary(_fn))
for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
              "xor"):
    setattr(Proxy, f"__i{_name}__", _binary(getattr(operator, f"i{_name}")))   # iadd(a, b)
for _name, _fn in [("neg", operator.neg), ("pos", operator.pos), ("invert", operator.invert),
                   ("abs", operator.abs)]:
    setattr(Proxy, f"__{_name}__", _unary(_fn))
