"""Random numbers: a default generator seeded by ``cr.manual_seed`` and private ``cr.Generator`` streams.

Streams come from NumPy's PCG64, so they are reproducible across platforms but differ from
PyTorch's Mersenne-Twister numbers for the same seed.
"""
import numpy as np

from chainrule.errors import ArgumentTypeError, ConfigError


class Generator:
    """A private random stream, as ``torch.Generator``: ``g = cr.Generator().manual_seed(0)``."""

    def __init__(self, device="cpu"):
        self._seed = 67280421310721  # PyTorch's default seed, for a familiar starting point
        self.rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed):
        """Reset the stream from *seed* (an int) and return the generator."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise ArgumentTypeError(f"manual_seed: expected an int seed, got {seed!r}")
        self._seed = int(seed) & 0xFFFF_FFFF_FFFF_FFFF
        self.rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self):
        """Seed from the operating system's entropy and return that seed."""
        s = int(np.random.SeedSequence().entropy) & 0xFFFF_FFFF_FFFF_FFFF
        self.manual_seed(s)
        return s

    def initial_seed(self):
        """The seed the stream was last reset with."""
        return self._seed

    def get_state(self):
        """The stream's full state as a dict of plain values (saveable with ``cr.save``)."""
        st = self.rng.bit_generator.state
        return {"bit_generator": st["bit_generator"], "state": int(st["state"]["state"]),
                "inc": int(st["state"]["inc"]), "has_uint32": int(st["has_uint32"]),
                "uinteger": int(st["uinteger"]), "seed": self._seed}

    def set_state(self, state):
        """Restore a state returned by :meth:`get_state`; a malformed state raises
        ``cr.ConfigError`` naming the bad field and leaves the stream unchanged."""
        if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
            raise ConfigError("set_state: expected a dict returned by Generator.get_state() "
                              "(with bit_generator 'PCG64')")
        for key, bits in (("state", 128), ("inc", 128), ("has_uint32", 1), ("uinteger", 32),
                          ("seed", 64)):
            value = state.get(key, 0 if key == "seed" else None)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or not 0 <= int(value) < 2 ** bits:
                raise ConfigError(f"set_state: entry {key!r} must be an int in [0, 2**{bits}), "
                                  f"got {str(value)[:40]}")
        seed = int(state.get("seed", self._seed))
        self.rng.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": int(state["state"]), "inc": int(state["inc"])},
            "has_uint32": int(state["has_uint32"]), "uinteger": int(state["uinteger"])}
        self._seed = seed
        return self


default_generator = Generator()


def manual_seed(seed):
    """Seed the default generator (as ``torch.manual_seed``) and return it."""
    return default_generator.manual_seed(seed)


def seed():
    """Seed the default generator non-deterministically and return the seed."""
    return default_generator.seed()


def initial_seed():
    """The default generator's seed."""
    return default_generator.initial_seed()


def get_rng_state():
    """The default generator's state (see :meth:`Generator.get_state`)."""
    return default_generator.get_state()


def set_rng_state(state):
    """Restore the default generator's state."""
    default_generator.set_state(state)


def rng(generator=None):
    """The NumPy ``Generator`` behind *generator* (or behind the default generator)."""
    if generator is None:
        return default_generator.rng
    if not isinstance(generator, Generator):
        raise ArgumentTypeError("generator: expected a cr.Generator, got "
                                f"{type(generator).__name__}")
    return generator.rng
