"""Uncertain inputs: ``[uncertain."dotted.key"]`` tables, a range for one numeric scenario key.

The key is named as ``surge sweep --vary`` names it (list items by index:
``traffic.shares.0.click_through``) and must be a number the scenario file gives: that
number stays the central case, so every command that does not draw surges is unchanged.
Each table gives a law over the key's plausible values and the ``source`` it comes from::

    [uncertain."traffic.shares.0.click_through"]
    dist = "loguniform"   # uniform | loguniform (low, high) | triangular (low, mode, high)
    low = 0.0006          # | lognormal (p05, p95: a 90 % range)
    high = 0.0109
    source = "traffic-parameters.md: clicks per follower 0.06-1.09 %"

:meth:`UncertainInput.value_at` is the law's inverse CDF, so a design of points in the unit
cube (Latin hypercube, Sobol) becomes draws of the scenario's inputs.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sim.config.tables import check_keys, number
from sim.errors import ConfigError

__all__ = ["UncertainInput", "DISTS", "VARIABLE_TABLES", "uncertain_from_table", "bind", "read_uncertain",
           "lookup", "set_value", "point_table", "table_key", "replaced_by", "included_uncertain"]

# dist -> the numbers it takes
DISTS: dict[str, tuple[str, ...]] = {
    "uniform": ("low", "high"),
    "loguniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "lognormal": ("p05", "p95"),
}
# The tables whose numbers may be uncertain: the traffic, the visitors, the site (not the run's settings).
VARIABLE_TABLES = ("traffic", "visitors", "site")
_Z95 = 1.6448536269514722  # standard normal 95th percentile: a lognormal's p05-p95 span is 2 x 1.645 sigma
_LOGNORMAL_ENDS = (0.001, 0.999)  # where an unbounded law's values are checked against the scenario's rules


def table_key(key: str) -> str:
    """How errors name an uncertain table: ``uncertain."traffic.shares.0.reach"``."""
    return f'uncertain."{key}"'


@dataclass(frozen=True, kw_only=True)
class UncertainInput:
    """One uncertain scalar: its dotted key, its law and where the range comes from.

    ``integer`` (set from the scenario: the key's central value is a whole number, e.g.
    ``site.app.instances``) makes :meth:`value_at` round to whole numbers."""

    key: str
    dist: str
    source: str
    low: float | None = None
    high: float | None = None
    mode: float | None = None
    p05: float | None = None
    p95: float | None = None
    integer: bool = False

    def __post_init__(self) -> None:
        if self.dist not in DISTS:
            raise ConfigError("dist", f"must be one of {', '.join(DISTS)}, got {self.dist!r}")
        need = DISTS[self.dist]
        for name in ("low", "high", "mode", "p05", "p95"):
            value = getattr(self, name)
            if name in need and value is None:
                raise ConfigError(name, f"is required for dist = {self.dist!r}")
            if name not in need and value is not None:
                raise ConfigError(name, f"is not used by dist = {self.dist!r} (it takes {', '.join(need)})")
            if value is not None and not math.isfinite(value):
                raise ConfigError(name, f"must be finite, got {value!r}")
        if not isinstance(self.source, str) or not self.source.strip():
            raise ConfigError("source", "must say where the range comes from (a reference, or 'assumption')")
        if self.dist == "lognormal":
            if not 0 < self.p05 < self.p95:
                raise ConfigError("p95", f"must be > p05 > 0, got p05 = {self.p05!r}, p95 = {self.p95!r}")
            return
        if not self.low < self.high:
            raise ConfigError("high", f"must be > low ({self.low!r}), got {self.high!r}")
        if self.dist == "loguniform" and not self.low > 0:
            raise ConfigError("low", f"must be > 0 for a loguniform range, got {self.low!r}")
        if self.dist == "triangular" and not self.low <= self.mode <= self.high:
            raise ConfigError("mode", f"must be within [low, high] = [{self.low!r}, {self.high!r}], got {self.mode!r}")

    @property
    def ends(self) -> tuple[float, float]:
        """The least and greatest values drawn (an unbounded lognormal: its 0.1 % and 99.9 % quantiles)."""
        if self.dist == "lognormal":
            return tuple(float(self._continuous(u)) for u in _LOGNORMAL_ENDS)  # type: ignore[return-value]
        return float(self.low), float(self.high)

    def _continuous(self, u):
        u = np.asarray(u, dtype=float)
        if self.dist == "uniform":
            return self.low + u * (self.high - self.low)
        if self.dist == "loguniform":
            return np.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        if self.dist == "triangular":
            a, c, b = self.low, self.mode, self.high
            cut = (c - a) / (b - a)
            left = a + np.sqrt(np.clip(u, 0, 1) * (b - a) * (c - a))
            right = b - np.sqrt(np.clip(1 - u, 0, 1) * (b - a) * (b - c))
            return np.where(u < cut, left, right)
        from scipy.special import ndtri  # the standard normal's inverse CDF

        mu = 0.5 * (math.log(self.p05) + math.log(self.p95))
        sigma = (math.log(self.p95) - math.log(self.p05)) / (2 * _Z95)
        return np.exp(mu + sigma * ndtri(u))

    def value_at(self, u):
        """The law's inverse CDF: ``u`` in (0, 1), a float or an array, to the value(s) (whole for integer keys)."""
        arr = np.asarray(u, dtype=float)
        if np.any(~((arr > 0) & (arr < 1))):
            raise ValueError(f"u must be within (0, 1), got {u!r}")
        x = self._continuous(arr)
        if self.integer:
            x = np.rint(x).astype(np.int64)
        if np.ndim(u) == 0:
            return int(x) if self.integer else float(x)
        return x

    def to_dict(self) -> dict:
        """The table as the scenario file gives it (for risk.json)."""
        out = {"key": self.key, "dist": self.dist}
        out.update({k: getattr(self, k) for k in DISTS[self.dist]})
        out["source"] = self.source
        return out


def uncertain_from_table(value: Any) -> tuple[UncertainInput, ...]:
    """The ``uncertain`` table: one sub-table per key, each checked for its own shape (not yet against the scenario)."""
    if not isinstance(value, dict):
        raise ConfigError("", f'must hold tables named by a dotted key, e.g. [uncertain."traffic.shares.0.reach"], '
                          f"got {value!r}")
    inputs = []
    for key, item in value.items():
        try:
            if not isinstance(item, dict):
                raise ConfigError("", f"must be a table with dist, its numbers and source, got {item!r}")
            check_keys(item, ["dist", "low", "high", "mode", "p05", "p95", "source"])
            if "dist" not in item:
                raise ConfigError("dist", f"is required: one of {', '.join(DISTS)}")
            if "source" not in item:
                raise ConfigError("source", "is required: where the range comes from (a reference, or 'assumption')")
            numbers = {k: number(k, v) for k, v in item.items() if k not in ("dist", "source")}
            inputs.append(UncertainInput(key=key, dist=item["dist"], source=item["source"], **numbers))
        except ConfigError as err:
            raise _named(err, key) from None
    return tuple(inputs)


def _named(err: ConfigError, key: str) -> ConfigError:
    """An error inside one table, keyed under the ``uncertain`` table (``"traffic.x".low``)."""
    inner = f".{err.key}" if err.key else ""
    return ConfigError(f'"{key}"{inner}', err.message, source=err.source)


def lookup(table: dict, key: str) -> Any:
    """The value at a dotted key of a TOML table (list items by index); KeyError naming the missing part."""
    node: Any = table
    for i, part in enumerate(key.split(".")):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(f"{'.'.join(key.split('.')[:i]) or 'the scenario'} has no item {part}")
            node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node:
                raise KeyError(f"the scenario gives no {'.'.join(key.split('.')[: i + 1])}")
            node = node[part]
        else:
            raise KeyError(f"{'.'.join(key.split('.')[:i])} is not a table")
    return node


def set_value(table: dict, key: str, value: Any) -> None:
    """Set a dotted key that :func:`lookup` finds (in place)."""
    *head, last = key.split(".")
    node = lookup(table, ".".join(head)) if head else table
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def bind(inputs: tuple[UncertainInput, ...], table: dict) -> tuple[UncertainInput, ...]:
    """The inputs checked against the scenario's table: each key a number the scenario gives, in a table
    that may vary, its central value within a bounded range; ``integer`` set for whole-number keys."""
    out = []
    for item in inputs:
        name = table_key(item.key)
        if item.key.split(".")[0] not in VARIABLE_TABLES:
            raise ConfigError(name, f"cannot be uncertain: only keys of {', '.join(VARIABLE_TABLES)} can "
                              f"(the run's settings are chosen, not guessed)")
        try:
            central = lookup(table, item.key)
        except KeyError as err:
            raise ConfigError(name, f"cannot be varied: {err.args[0]} (give its central value in the scenario, "
                              f"named as surge sweep --vary names it)") from None
        if isinstance(central, bool) or not isinstance(central, (int, float)):
            raise ConfigError(name, f"cannot be varied: it is not a number in the scenario (it is {central!r})")
        if item.dist != "lognormal" and not item.low <= central <= item.high:
            raise ConfigError(name, f"the scenario's value {central!r} (the central case) must lie within "
                              f"[low, high] = [{item.low!r}, {item.high!r}]")
        out.append(replace(item, integer=isinstance(central, int)))
    return tuple(out)


def read_uncertain(table: dict, path: str) -> tuple[UncertainInput, ...]:
    """A scenario table's uncertain inputs, checked against it (``()`` when it has none); errors name ``path``."""
    try:
        try:
            inputs = uncertain_from_table(table.get("uncertain", {}))
        except ConfigError as err:
            raise err.within("uncertain") from None
        return bind(inputs, table)
    except ConfigError as err:
        raise (err if err.source else err.at(path)) from None


def replaced_by(table: dict, key: str) -> bool:
    """Whether ``table``, laid over another by ``include``, gives the value at ``key`` itself: the key, or a list
    or value on its path (a list replaces the included one whole)."""
    node: Any = table
    for part in key.split("."):
        if not isinstance(node, dict):
            return True  # a list or a value replaces everything below it
        if part not in node:
            return False
        node = node[part]
    return True


def included_uncertain(included: dict, own: dict) -> dict:
    """The included file's ``uncertain`` tables that still describe its values: those about a value the including
    file replaces are dropped (their range was for the value replaced); the including file's own are kept."""
    kept = {k: v for k, v in included.get("uncertain", {}).items() if not replaced_by(own, k)} \
        if isinstance(included.get("uncertain"), dict) else included.get("uncertain")
    return kept


def point_table(table: dict, values: dict[str, Any]) -> dict:
    """A copy of ``table`` without its ``uncertain`` tables, the given keys set: one plausible surge's scenario."""
    out = copy.deepcopy({k: v for k, v in table.items() if k != "uncertain"})
    for key, value in values.items():
        set_value(out, key, value)
    return out
