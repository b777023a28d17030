"""The site a load test sends its load to: one check for every route.

``surge loadtest --host``, locust's ``--host`` (headless, web UI, ``--processes``,
``--master``) and the Host field of locust's web UI all pass through :func:`check_host`,
so a host one route refuses, every route refuses, in the same words, before any load
is sent. What it lets through is where the load goes: the scheme, host and port, and
a path prefix the scenario's paths are appended to (as the exported scripts do). What
the driver could not honour (credentials, a query, a fragment) is refused, not dropped.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from sim.errors import ConfigError, check_url

__all__ = ["check_host", "EXAMPLE_HOST"]

EXAMPLE_HOST = "http://127.0.0.1:8000"
# A DNS name: dot-separated labels of letters, digits, '-' (and '_', as container names have), 1-63 each.
_NAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?")


def check_host(value: str | None, *, flag: str = "--host") -> str:
    """The site's base URL the load goes to (without a trailing '/'); a ``ConfigError`` naming ``flag``
    and the value for anything the load test could not send to as written."""
    if value is None or not str(value).strip():
        raise ConfigError(flag, f"must be given: the site to test, e.g. {EXAMPLE_HOST}")
    value = str(value)
    check_url(flag, value)  # http(s)://, a host, a port in [1, 65535]
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        raise ConfigError(flag, f"must not hold a user or password (the load test sends none), got {value!r}")
    if parts.query or parts.fragment or value.rstrip().endswith(("?", "#")):
        raise ConfigError(flag, f"must not hold a query or fragment (the scenario's paths are appended to it), "
                                f"got {value!r}")
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _NAME.fullmatch(host) or len(host) > 253:
            raise ConfigError(flag, f"must name a host by IP address or DNS name (ASCII letters, digits, '-', "
                                    f"'.'), got {value!r}") from None
    path = parts.path.rstrip("/")
    if not re.fullmatch(r"[!-~]*", path):  # what an HTTP request line may carry: no space, no control character
        raise ConfigError(flag, f"must have a path of printable ASCII without spaces, got {value!r}")
    return urlunsplit((parts.scheme.lower(), parts.netloc, path, "", ""))
