"""Random numbers the model takes one at a time, drawn a block at a time.

Retry decisions and the random balancer's picks happen deep in a run, one per event.
Drawing them in fixed blocks (vectorised) gives every engine the same sequence: the
event engines take them one by one from :class:`BlockDraws`, the compiled loop reads
the very same blocks as arrays (``sim.engine.compiled.driver``). The block size is part of the
stream (a block of uniforms, then a block of delays), so it is fixed here.
"""

from __future__ import annotations

import numpy as np

from sim.config.distributions import Distribution

__all__ = ["BLOCK", "BlockDraws"]

BLOCK = 4096


class BlockDraws:
    """Uniforms on [0, 1), each paired with a draw of ``paired`` (if given), a block at a time.

    Block k is ``rng.random(BLOCK)`` followed by ``paired.sample(rng, BLOCK)``.
    """

    __slots__ = ("rng", "paired", "_u", "_d", "_i")

    def __init__(self, rng: np.random.Generator, paired: Distribution | None = None) -> None:
        self.rng, self.paired = rng, paired
        self._u: list[float] = []
        self._d: list[float] = []
        self._i = BLOCK

    def block(self) -> tuple[np.ndarray, np.ndarray]:
        """The next block as arrays (uniforms, paired draws or zeros)."""
        u = self.rng.random(BLOCK)
        d = (np.asarray(self.paired.sample(self.rng, BLOCK), dtype=float) if self.paired is not None
             else np.zeros(BLOCK))
        return u, d

    def take(self) -> tuple[float, float]:
        """The next (uniform, paired draw)."""
        i = self._i
        if i == BLOCK:
            u, d = self.block()
            self._u, self._d = u.tolist(), d.tolist()
            i = 0
        self._i = i + 1
        return self._u[i], self._d[i]
