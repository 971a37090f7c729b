"""Named random streams derived from one seed.

Every stochastic decision draws from its own generator, identified by (module, stream, province). The
generator's seed is a `numpy.random.SeedSequence` built from the run's seed and a hash of the names
(`hashlib`, never Python's salted `hash()`), so a stream's draws never depend on the order or grouping in
which provinces are processed, nor on which other streams exist: a counterfactual that adds a mechanism
does not shift the draws of the others.

Draws are 64-bit (`float64` uniforms, `int64` integers): mapping 32-bit floats onto millions of choices is
biased.
"""

from __future__ import annotations

import hashlib

import numpy as np


def name_key(*names: str) -> list[int]:
    """Four 32-bit words from a SHA-256 of the joined names: a stable, platform-independent key."""
    digest = hashlib.sha256("\x1f".join(names).encode("utf-8")).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def seed_sequence(seed: int, *names: str) -> np.random.SeedSequence:
    """The seed sequence of the stream called `names` in a run with `seed`."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.SeedSequence([seed, *name_key(*names)])


def make_generator(seed: int, *names: str) -> np.random.Generator:
    """A PCG64 generator for the stream called `names` (e.g. module, stream, province code)."""
    return np.random.Generator(np.random.PCG64(seed_sequence(seed, *names)))


class Streams:
    """The generators of one province shard, created on first use and kept for the whole run.

    A module asks for `streams.get(module, stream)`; the engine checks that the module declared the
    stream (see `greatleap.core.module.Module.streams`).
    """

    def __init__(self, seed: int, province: str) -> None:
        self.seed = seed
        self.province = province
        self._generators: dict[tuple[str, str], np.random.Generator] = {}

    def get(self, module: str, stream: str) -> np.random.Generator:
        key = (module, stream)
        generator = self._generators.get(key)
        if generator is None:
            generator = make_generator(self.seed, module, stream, self.province)
            self._generators[key] = generator
        return generator

    def state(self) -> dict[str, dict]:
        """Every generator's state, for checkpoints."""
        return {f"{m}/{s}": g.bit_generator.state for (m, s), g in sorted(self._generators.items())}

    def set_state(self, states: dict[str, dict]) -> None:
        """Put back the generator states a checkpoint saved (generators it did not hold are dropped: they
        had not drawn yet, and are recreated at their start when first asked for)."""
        self._generators.clear()
        for key, state in states.items():
            module, stream = key.split("/", 1)
            self.get(module, stream).bit_generator.state = state
