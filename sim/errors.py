"""The errors surge raises on purpose, all in one place.

    ValueError
    └── ConfigError        bad input: a scenario key, a flag, a file; carries the key
        └── NotModelled    a scenario part the chosen engine does not model; carries the key
    OSError
    └── NotWritable        (sim.files) an output path that cannot be written; the CLI names its flag
    KeyboardInterrupt
    └── Stopped            (sim.interrupts) SIGINT or SIGTERM under the command line: stop, keep results

Constructors raise ``ConfigError("reach", "must be within [0, 1], got 1.7")``;
the scenario loader prefixes the path of the enclosing tables and the file name,
so the user sees ``scenarios/x.toml: traffic.shares[1].reach: must be ...``. The
command line prints such an error as one line and exits with code 2.
"""

from __future__ import annotations

__all__ = ["ConfigError", "NotModelled", "check_url"]


class ConfigError(ValueError):
    """A bad value in a scenario or on the command line."""

    def __init__(self, key: str, message: str, *, source: str | None = None) -> None:
        self.key = key
        self.message = message
        self.source = source
        super().__init__(str(self))

    def within(self, prefix: str) -> "ConfigError":
        """The same error, its key placed under ``prefix`` (a table path)."""
        if not prefix:
            return self
        key = f"{prefix}{self.key}" if self.key.startswith("[") else (
            f"{prefix}.{self.key}" if self.key else prefix
        )
        return ConfigError(key, self.message, source=self.source)

    def at(self, source: str) -> "ConfigError":
        """The same error, naming the file (or flag) it came from."""
        return ConfigError(self.key, self.message, source=source)

    def __str__(self) -> str:
        parts = [p for p in (self.source, self.key) if p]
        return ": ".join(parts + [self.message])


class NotModelled(ConfigError):
    """A scenario part (``key``, e.g. ``site.autoscale``) that ``engine`` does not model."""

    def __init__(self, key: str, engine: str, *, instead: str = "reference", source: str | None = None) -> None:
        self.engine, self.instead = engine, instead
        super().__init__(key, f"is not modelled by --engine {engine}; use --engine {instead}", source=source)

    def within(self, prefix: str) -> "NotModelled":
        return NotModelled(ConfigError(self.key, "").within(prefix).key, self.engine, instead=self.instead,
                           source=self.source)

    def at(self, source: str) -> "NotModelled":
        return NotModelled(self.key, self.engine, instead=self.instead, source=source)


def check_url(flag: str, value: str) -> None:
    """A site's address given on the command line must be an http(s) URL with a host and, if any, a valid port."""
    from urllib.parse import urlsplit

    if not value.startswith(("http://", "https://")):
        raise ConfigError(flag, f"must be a URL starting with http:// or https://, got {value!r}")
    try:
        parts = urlsplit(value)
        port = parts.port  # ValueError for a port that is not a number in [0, 65535]
    except ValueError:
        raise ConfigError(flag, f"must have a port that is a number in [1, 65535], got {value!r}") from None
    if not parts.hostname:
        raise ConfigError(flag, f"must name a host, e.g. http://127.0.0.1:8000, got {value!r}")
    if port == 0:
        raise ConfigError(flag, f"must have a port that is a number in [1, 65535], got {value!r}")
