"""The ``[site]`` section: the tiers a visitor's requests pass through.

A section that is absent is not modelled: no defaults add a tier silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.errors import ConfigError

__all__ = ["CdnConfig", "SiteConfig"]


@dataclass(frozen=True, kw_only=True)
class CdnConfig:
    hit_ratio: float
    html_hit_ratio: float | None = None

    def __post_init__(self) -> None:
        for key in ("hit_ratio", "html_hit_ratio"):
            value = getattr(self, key)
            if value is not None and not (0 <= value <= 1):
                raise ConfigError(key, f"must be within [0, 1], got {value!r}")

    @property
    def html_ratio(self) -> float:
        """Hit ratio of HTML documents (defaults to ``hit_ratio``)."""
        return self.hit_ratio if self.html_hit_ratio is None else self.html_hit_ratio


@dataclass(frozen=True, kw_only=True)
class SiteConfig:
    cdn: CdnConfig | None = None
