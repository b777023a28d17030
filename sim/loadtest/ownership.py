"""Whether the user may aim load at a site: loopback is free; any other host first proves its owner wants it.

A surge aimed at the wrong host is a denial-of-service attack, so ``surge loadtest``,
``surge calibrate`` and the locust file (every route) call :func:`check_ownership`
before any load is sent:

* a loopback target (127.0.0.0/8, ::1, ``localhost``) needs nothing, as before;
* any other target must serve the user's token for its origin (scheme, host and port) at
  ``/.well-known/surge-verify.txt`` (one line; several lines serve several users). The
  token is an HMAC of the origin under a random secret of the user's, so it stays the
  same from test to test, and differs between users and between sites;
* ``--i-control-this-host=URL``, repeating the target's origin, skips the fetch: the user
  vouches for the host, and the summary records that they did.

The secret, the tokens handed out and the hosts proven are kept in one JSON file the user
can read and delete (:func:`store_path`). A host proven for the first time is held to
:data:`FIRST_TEST_MAX_REQUESTS_PER_S` until ``--lift-first-test-limit`` is passed once
(:func:`check_rate`): the first test is a look at the site, not a surge.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import secrets
import ssl
import sys
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path

from sim.errors import ConfigError
from sim.loadtest.host import check_host

__all__ = ["WELL_KNOWN_PATH", "VOUCH_FLAG", "LIFT_FLAG", "STORE_ENV", "FIRST_TEST_MAX_REQUESTS_PER_S",
           "Ownership", "is_loopback", "origin", "store_path", "token_for", "check_vouch", "check_ownership",
           "check_rate", "capped_rate"]

WELL_KNOWN_PATH = "/.well-known/surge-verify.txt"
VOUCH_FLAG = "--i-control-this-host"
LIFT_FLAG = "--lift-first-test-limit"
STORE_ENV = "SURGE_CONFIG_DIR"  # where the store is kept instead of $XDG_CONFIG_HOME/surge (tests use a tmp dir)
# A first test's ceiling: what one small server (a worker or two) serves without notice, and what crawlers alone
# send to many public sites. Enough to see the paths answer and the site's latency; far from a surge.
FIRST_TEST_MAX_REQUESTS_PER_S = 10.0
_FETCH_TIMEOUT_S = 5.0
_MAX_REDIRECTS = 2  # followed only within the same origin: a proof is the target's own
_MAX_BODY_BYTES = 4096
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, kw_only=True)
class Ownership:
    """Why load may go to ``host``: ``proof`` is "loopback", "token" (it served the token) or "vouched"."""

    host: str  # the origin: scheme://host:port
    proof: str
    token_url: str | None = None  # where the token was read ("token" only)
    first_test: bool = False  # held to the first test's ceiling (``check_rate``)
    first_test_max_requests_per_s: float | None = None  # the ceiling when ``first_test``
    store: str | None = None  # the file of tokens and proven hosts (None for loopback)

    def to_dict(self) -> dict:
        return asdict(self)


def _hostname(host_url: str) -> str:
    return (urllib.parse.urlsplit(host_url).hostname or "").rstrip(".").lower()


def is_loopback(host_url: str) -> bool:
    """The host is this machine's loopback: ``localhost``, 127.0.0.0/8 or ::1 (load never leaves the machine)."""
    name = _hostname(host_url)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def origin(host_url: str) -> str:
    """``scheme://host:port``, lower case, the port always written: what a token and a proof are for."""
    parts = urllib.parse.urlsplit(host_url)
    scheme = parts.scheme.lower()
    name = _hostname(host_url)
    shown = f"[{name}]" if ":" in name else name
    return f"{scheme}://{shown}:{parts.port or _DEFAULT_PORTS[scheme]}"


def store_path() -> Path:
    """The JSON file of the user's secret, the tokens handed out and the hosts proven."""
    base = os.environ.get(STORE_ENV)
    if base:
        return Path(base) / "ownership.json"
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "surge" / "ownership.json"


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        data = {}
    except (OSError, ValueError) as err:
        raise ConfigError(str(path), f"cannot be read as surge's store of proven hosts ({err}); delete it to "
                                     "start afresh (new tokens)") from None
    if not isinstance(data, dict) or not isinstance(data.get("secret", ""), str):
        raise ConfigError(str(path), "is not surge's store of proven hosts; delete it to start afresh (new tokens)")
    data.setdefault("secret", secrets.token_hex(32))
    data.setdefault("tokens", {})
    data.setdefault("proven", {})
    return data


def _save(path: Path, data: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the secret is the user's alone
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(data, indent=2) + "\n")
        tmp.replace(path)
    except OSError as err:
        raise ConfigError(str(path), f"cannot be written ({err.strerror or err}); set {STORE_ENV} to a folder "
                                     "that can") from None


def token_for(secret: str, host_url: str) -> str:
    """The token a host serves to prove it wants this user's load: the same for every test of its origin."""
    digest = hmac.new(bytes.fromhex(secret), origin(host_url).encode(), hashlib.sha256).hexdigest()
    return f"surge-verify-{digest[:40]}"


def _fetch(url: str) -> tuple[int | None, str, str]:
    """(status or None, body, what happened) of a GET of ``url``, following redirects within its origin only."""
    home = origin(url)
    for _ in range(_MAX_REDIRECTS + 1):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=_FETCH_TIMEOUT_S,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=_FETCH_TIMEOUT_S)
        try:
            conn.request("GET", parts.path or "/", headers={"User-Agent": "surge-verify", "Accept": "text/plain"})
            resp = conn.getresponse()
            body = resp.read(_MAX_BODY_BYTES).decode("utf-8", "replace")
            status, location = resp.status, resp.getheader("Location")
        except (OSError, http.client.HTTPException) as err:
            return None, "", f"no answer ({type(err).__name__}: {err})"
        finally:
            conn.close()
        if status in (301, 302, 303, 307, 308) and location:
            target = urllib.parse.urljoin(url, location)
            if not target.startswith(("http://", "https://")) or origin(target) != home:
                return status, "", f"it answered {status}, a redirect to {target} (not followed: another origin)"
            url = target
            continue
        return status, body, f"it answered {status}"
    return None, "", f"it redirected more than {_MAX_REDIRECTS} times"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def check_vouch(host: str, vouch: str) -> None:
    """``--i-control-this-host`` must repeat the origin of the site the load goes to (a ``ConfigError`` if not)."""
    if origin(check_host(vouch, flag=VOUCH_FLAG)) != origin(host):
        raise ConfigError(VOUCH_FLAG, f"names {origin(vouch)}, not the site the load goes to ({origin(host)}): it "
                                      "must repeat the site's scheme, host and port")


def check_ownership(host: str, *, vouch: str | None = None, lift: bool = False, flag: str = "--host",
                    say=None) -> Ownership:
    """Whether load may go to ``host`` (already checked by ``check_host``), said in one line on stderr (or by
    ``say``); a ``ConfigError`` naming ``flag``, the token and where to serve it when the host has not proven it.

    Loopback needs nothing and says nothing. Otherwise ``vouch`` (the value of ``--i-control-this-host``) must
    repeat the host's origin, or the host must serve the token: one GET (a redirect within the origin followed,
    at most twice). ``lift`` lifts the first-test ceiling of a proven host, for good."""
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    home = origin(host)
    if vouch is not None:
        check_vouch(host, vouch)
    if is_loopback(host):
        return Ownership(host=home, proof="loopback")
    path = store_path()
    if vouch is not None:
        say(f"surge: {home} not checked: you vouch that you control it ({VOUCH_FLAG}); summary.json records it")
        return Ownership(host=home, proof="vouched", store=str(path))
    data = _load(path)
    token = token_for(data["secret"], host)
    url = home + WELL_KNOWN_PATH
    if data["tokens"].get(home) != token:
        data["tokens"][home] = token  # where the user can read it again
        _save(path, data)
    status, body, what = _fetch(url)
    if status != 200 or token not in (line.strip() for line in body.splitlines()):
        if status == 200:
            what = "it answered 200 without the token"
        raise ConfigError(flag, f"{home} has not proven that you control it: serve the line {token} at {url} "
                                f"({what}; tokens are kept in {path}), or pass {VOUCH_FLAG}={home} if you do; "
                                "nothing was sent")
    record = data["proven"].get(home)
    if record is None:
        record = data["proven"][home] = {"first_proven": _now(), "first_test_limit": True}
    record["last_proven"] = _now()
    if lift and record.get("first_test_limit", True):
        record["first_test_limit"], record["lifted"] = False, _now()
    _save(path, data)
    first = bool(record.get("first_test_limit", True))
    say(f"surge: {home} proven: it serves your token at {WELL_KNOWN_PATH} (kept in {path})"
        + (f"; a first test: at most {FIRST_TEST_MAX_REQUESTS_PER_S:g} requests/s until {LIFT_FLAG}" if first
           else ""))
    return Ownership(host=home, proof="token", token_url=url, first_test=first,
                     first_test_max_requests_per_s=FIRST_TEST_MAX_REQUESTS_PER_S if first else None, store=str(path))


def check_rate(ownership: Ownership, peak_requests_per_s: float, *, flag: str, lower: str) -> None:
    """A ``ConfigError`` naming ``flag`` when a first test of a host would send more than its ceiling at peak;
    ``lower`` says how to send less (e.g. "--scale 0.0004 or lower")."""
    if not ownership.first_test or peak_requests_per_s <= FIRST_TEST_MAX_REQUESTS_PER_S:
        return
    raise ConfigError(flag, f"sends {peak_requests_per_s:,.1f} requests/s at peak, more than the "
                            f"{FIRST_TEST_MAX_REQUESTS_PER_S:g} requests/s of a first test of {ownership.host}: "
                            f"pass {lower}, or {LIFT_FLAG} once a first test has shown the site answers as it should")


def capped_rate(ownership: Ownership, rate_per_s: float) -> float:
    """``rate_per_s``, lowered to a first test's limit when the host is held to it (a ceiling such as
    ``surge calibrate --max-rate`` keeps its meaning when lowered)."""
    return min(rate_per_s, FIRST_TEST_MAX_REQUESTS_PER_S) if ownership.first_test else rate_per_s
