"""Attention-decay kernels: how the clicks on a post spread over the time after it.

Each kernel is a probability density on t >= 0 (it integrates to 1), so a share's
expected visitors are exactly followers x reach x click_through x reshare_factor.
Written in a scenario as the share's ``decay`` table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from sim.config.checks import positive, within
from sim.errors import ConfigError

__all__ = ["Kernel", "ExponentialKernel", "PowerLawKernel", "MixKernel", "MixPart", "kernel_from_table"]


class Kernel:
    """A density on t >= 0 with its cumulative distribution; both take arrays."""

    kind: ClassVar[str] = ""

    def pdf(self, t: Any) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def cdf(self, t: Any) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class ExponentialKernel(Kernel):
    kind: ClassVar[str] = "exponential"
    half_life_s: float

    def __post_init__(self) -> None:
        positive("half_life_s", self.half_life_s)

    @property
    def rate_per_s(self) -> float:
        return math.log(2) / self.half_life_s

    def pdf(self, t: Any) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        lam = self.rate_per_s
        return np.where(t >= 0, lam * np.exp(-lam * np.maximum(t, 0.0)), 0.0)

    def cdf(self, t: Any) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        return np.where(t >= 0, -np.expm1(-self.rate_per_s * np.maximum(t, 0.0)), 0.0)


@dataclass(frozen=True, kw_only=True)
class PowerLawKernel(Kernel):
    """SEISMIC's kernel (Zhao et al., KDD 2015): flat for ``flat_s``, then ``(t/flat_s)^-(1+theta)``."""

    kind: ClassVar[str] = "power_law"
    flat_s: float
    theta: float

    def __post_init__(self) -> None:
        positive("flat_s", self.flat_s)
        positive("theta", self.theta)

    @property
    def height_per_s(self) -> float:
        """The flat part's density, chosen so that the whole integrates to 1."""
        return self.theta / (self.flat_s * (1 + self.theta))

    def pdf(self, t: Any) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        x = np.maximum(t, self.flat_s) / self.flat_s
        return np.where(t >= 0, self.height_per_s * x ** -(1 + self.theta), 0.0)

    def cdf(self, t: Any) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        c, s0, th = self.height_per_s, self.flat_s, self.theta
        flat = c * np.clip(t, 0.0, s0)
        x = np.maximum(t, s0) / s0
        tail = -np.expm1(-th * np.log(x)) / (1 + th)  # = (1 - x^-theta) / (1 + theta)
        return np.where(t >= 0, flat + tail, 0.0)


@dataclass(frozen=True, kw_only=True)
class MixPart:
    weight: float
    kernel: Kernel


@dataclass(frozen=True, kw_only=True)
class MixKernel(Kernel):
    kind: ClassVar[str] = "mix"
    parts: tuple[MixPart, ...]

    def __post_init__(self) -> None:
        if not self.parts:
            raise ConfigError("parts", "must hold at least one part")
        for i, part in enumerate(self.parts):
            within(f"parts[{i}].weight", part.weight, 0, 1)
        total = sum(p.weight for p in self.parts)
        if abs(total - 1) > 1e-9:
            raise ConfigError("parts", f"weights must sum to 1, got {total:g}")

    def pdf(self, t: Any) -> np.ndarray:
        return sum(p.weight * p.kernel.pdf(t) for p in self.parts)

    def cdf(self, t: Any) -> np.ndarray:
        return sum(p.weight * p.kernel.cdf(t) for p in self.parts)


_SIMPLE = {"exponential": (ExponentialKernel, ("half_life_s",)), "power_law": (PowerLawKernel, ("flat_s", "theta"))}


def kernel_from_table(table: Any) -> Kernel:
    """Build a kernel from a ``decay`` table (``kernel = "exponential" | "power_law" | "mix"``)."""
    from sim.config.tables import check_keys, number

    if not isinstance(table, dict):
        raise ConfigError("", f"must be a {{ kernel = ... }} table, got {table!r}")
    kind = table.get("kernel")
    if kind == "mix":
        check_keys(table, ["kernel", "parts"])
        raw = table.get("parts")
        if not isinstance(raw, list) or not raw:
            raise ConfigError("parts", f"must be a non-empty list of tables, got {raw!r}")
        parts = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise ConfigError(f"parts[{i}]", f"must be a table, got {item!r}")
            if "weight" not in item:
                raise ConfigError(f"parts[{i}].weight", "is required")
            try:
                weight = number("weight", item["weight"])
                inner = kernel_from_table({k: v for k, v in item.items() if k != "weight"})
            except ConfigError as err:
                raise err.within(f"parts[{i}]") from None
            if isinstance(inner, MixKernel):
                raise ConfigError(f"parts[{i}].kernel", "a mix cannot contain a mix")
            parts.append(MixPart(weight=weight, kernel=inner))
        return MixKernel(parts=tuple(parts))
    if kind not in _SIMPLE:
        raise ConfigError("kernel", f"must be one of exponential, power_law, mix, got {kind!r}")
    cls, keys = _SIMPLE[kind]
    check_keys(table, ["kernel", *keys])
    kwargs = {}
    for key in keys:
        if key not in table:
            raise ConfigError(key, f"is required for kernel = {kind!r}")
        kwargs[key] = number(key, table[key])
    return cls(**kwargs)
