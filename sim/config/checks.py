"""The value checks every configuration class runs in ``__post_init__``: one wording for each rule.

Each raises :class:`~sim.errors.ConfigError` naming the key and the value it got; the
scenario loader then places the key under its table and names the file.
"""

from __future__ import annotations

import math

from sim.errors import ConfigError

__all__ = ["within", "ratio", "at_least", "greater", "positive", "non_negative", "whole", "at_most", "LIMIT"]

# How a value beyond one of surge's limits (``sim.config.limits``) is told: the limit, and where they are listed.
LIMIT = "surge's limit, see docs/scenario-format.md#limits"


def within(key: str, value: float, low: float, high: float) -> None:
    if not (low <= value <= high):
        raise ConfigError(key, f"must be within [{low:g}, {high:g}], got {value!r}")


def ratio(key: str, value: float | None) -> None:
    """A fraction in [0, 1]; None (not given) passes."""
    if value is not None:
        within(key, value, 0, 1)


def at_least(key: str, value: float, low: float, *, finite: bool = True) -> None:
    if not (value >= low) or (finite and math.isinf(value)):
        raise ConfigError(key, f"must be >= {low:g}{' and finite' if finite else ''}, got {value!r}")


def greater(key: str, value: float, low: float, *, finite: bool = True) -> None:
    if not (value > low) or (finite and math.isinf(value)):
        raise ConfigError(key, f"must be > {low:g}{' and finite' if finite else ''}, got {value!r}")


def positive(key: str, value: float, *, allow_inf: bool = False) -> None:
    if not (value > 0) or (math.isinf(value) and not allow_inf):
        raise ConfigError(key, f"must be > 0{' (inf allowed)' if allow_inf else ' and finite'}, got {value!r}")


def non_negative(key: str, value: float, *, allow_inf: bool = False) -> None:
    if not (value >= 0) or (math.isinf(value) and not allow_inf):
        raise ConfigError(key, f"must be >= 0{' (inf allowed)' if allow_inf else ' and finite'}, got {value!r}")


def whole(key: str, value: float, low: int, *, allow_inf: bool = False) -> None:
    """A whole number >= ``low`` (or inf, where allowed: an unbounded count)."""
    if allow_inf and math.isinf(value) and value > 0:
        return
    if not (value >= low and not math.isinf(value) and float(value).is_integer()):
        extra = " or inf" if allow_inf else ""
        raise ConfigError(key, f"must be a whole number >= {low}{extra}, got {value!r}")


def at_most(key: str, value: float, high: float, *, what: str = "") -> None:
    """At most ``high``: one of surge's limits (``sim.config.limits``) on a size that becomes memory or events.

    ``what`` names a derived quantity (``"duration_s / bin_s"``) when the value checked is not the key's own."""
    if value > high:
        if what:
            raise ConfigError(key, f"{what} must be <= {high:g} ({LIMIT}), got {value:.6g}")
        raise ConfigError(key, f"must be <= {high:g} ({LIMIT}), got {value!r}")
