"""Probability distributions written in scenarios as ``{ dist = "...", ... }`` tables.

Each is a frozen dataclass with ``mean`` and ``sample(rng, size)``, drawing from an
explicit :class:`numpy.random.Generator` (never global state), so a seed makes a
run repeatable. A plain number in a scenario means a constant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from sim.config.checks import non_negative, positive
from sim.errors import ConfigError

__all__ = [
    "Distribution",
    "Constant",
    "Exponential",
    "Lognormal",
    "Uniform",
    "Gamma",
    "Empirical",
    "DISTRIBUTIONS",
    "distribution_from_table",
    "scaled",
]


class Distribution:
    """Base class: ``mean`` and ``sample(rng, size)``."""

    kind: ClassVar[str] = ""

    @property
    def mean(self) -> float:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        raise NotImplementedError  # pragma: no cover


@dataclass(frozen=True, kw_only=True)
class Constant(Distribution):
    kind: ClassVar[str] = "constant"
    value: float

    def __post_init__(self) -> None:
        non_negative("value", self.value, allow_inf=True)

    @property
    def mean(self) -> float:
        return float(self.value)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return float(self.value) if size is None else np.full(size, float(self.value))


@dataclass(frozen=True, kw_only=True)
class Exponential(Distribution):
    kind: ClassVar[str] = "exponential"
    mean_s: float

    def __post_init__(self) -> None:
        positive("mean", self.mean_s, allow_inf=True)

    @property
    def mean(self) -> float:
        return float(self.mean_s)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        if math.isinf(self.mean_s):
            return math.inf if size is None else np.full(size, math.inf)
        return rng.exponential(self.mean_s, size)


@dataclass(frozen=True, kw_only=True)
class Lognormal(Distribution):
    kind: ClassVar[str] = "lognormal"
    median: float
    sigma: float

    def __post_init__(self) -> None:
        positive("median", self.median)
        non_negative("sigma", self.sigma)

    @property
    def mean(self) -> float:
        exponent = self.sigma**2 / 2
        if exponent > 709.0:  # beyond the largest float: the mean is unbounded in practice (sigma > 37.6)
            return math.inf
        return self.median * math.exp(exponent)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return rng.lognormal(math.log(self.median), self.sigma, size)


@dataclass(frozen=True, kw_only=True)
class Uniform(Distribution):
    kind: ClassVar[str] = "uniform"
    low: float
    high: float

    def __post_init__(self) -> None:
        non_negative("low", self.low)
        if not (self.high >= self.low) or math.isinf(self.high):
            raise ConfigError("high", f"must be finite and >= low ({self.low!r}), got {self.high!r}")

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return rng.uniform(self.low, self.high, size)


@dataclass(frozen=True, kw_only=True)
class Gamma(Distribution):
    kind: ClassVar[str] = "gamma"
    shape: float
    scale: float

    def __post_init__(self) -> None:
        positive("shape", self.shape)
        positive("scale", self.scale)

    @property
    def mean(self) -> float:
        return self.shape * self.scale

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return rng.gamma(self.shape, self.scale, size)


@dataclass(frozen=True, kw_only=True)
class Empirical(Distribution):
    """Resamples a list of observed values with replacement (a bootstrap)."""

    kind: ClassVar[str] = "empirical"
    samples: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.samples) == 0:
            raise ConfigError("samples", "must hold at least one value, got []")
        for i, v in enumerate(self.samples):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not (v >= 0) or math.isinf(v):
                raise ConfigError(f"samples[{i}]", f"must be a finite number >= 0, got {v!r}")

    @property
    def mean(self) -> float:
        return float(np.mean(self.samples))

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        values = np.asarray(self.samples, dtype=float)
        idx = rng.integers(0, len(values), size)
        return float(values[idx]) if size is None else values[idx]


# The keys each table takes; "mean" maps to the field ``mean_s`` because ``mean`` is the property.
DISTRIBUTIONS: dict[str, tuple[type[Distribution], dict[str, str]]] = {
    "constant": (Constant, {"value": "value"}),
    "exponential": (Exponential, {"mean": "mean_s"}),
    "lognormal": (Lognormal, {"median": "median", "sigma": "sigma"}),
    "uniform": (Uniform, {"low": "low", "high": "high"}),
    "gamma": (Gamma, {"shape": "shape", "scale": "scale"}),
    "empirical": (Empirical, {"samples": "samples"}),
}


def distribution_from_table(value: Any) -> Distribution:
    """Build a distribution from a scenario value: a number or a ``{ dist = ... }`` table."""
    from sim.config.tables import check_keys, number  # local: tables imports nothing of ours but errors

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Constant(value=float(value))
    if not isinstance(value, dict):
        raise ConfigError("", f"must be a number or a {{ dist = ... }} table, got {value!r}")
    kind = value.get("dist")
    if kind not in DISTRIBUTIONS:
        raise ConfigError("dist", f"must be one of {', '.join(DISTRIBUTIONS)}, got {kind!r}")
    cls, keys = DISTRIBUTIONS[kind]
    check_keys(value, ["dist", *keys])
    kwargs: dict[str, Any] = {}
    for key, field_name in keys.items():
        if key not in value:
            raise ConfigError(key, f"is required for dist = {kind!r}")
        if key == "samples":
            if not isinstance(value[key], list):
                raise ConfigError(key, f"must be a list of numbers, got {value[key]!r}")
            kwargs[field_name] = tuple(value[key])
        else:
            kwargs[field_name] = number(key, value[key])
    return cls(**kwargs)


def scaled(dist: Distribution, factor: float) -> Distribution:
    """The same law for a quantity ``factor`` times as large (a think time in a time-compressed replay)."""
    if isinstance(dist, Constant):
        return Constant(value=dist.value * factor)
    if isinstance(dist, Exponential):
        return Exponential(mean_s=dist.mean_s * factor)
    if isinstance(dist, Lognormal):
        return Lognormal(median=dist.median * factor, sigma=dist.sigma)
    if isinstance(dist, Uniform):
        return Uniform(low=dist.low * factor, high=dist.high * factor)
    if isinstance(dist, Gamma):
        return Gamma(shape=dist.shape, scale=dist.scale * factor)
    if isinstance(dist, Empirical):
        return Empirical(samples=tuple(v * factor for v in dist.samples))
    raise TypeError(f"cannot scale {dist!r}")  # pragma: no cover - every law is listed above
