"""Sites at an address that is not loopback, without leaving the machine: servers inside a network namespace.

The test makes the namespace and a veth pair with a private /30 of 10.213.0.0/16 (the host's end .1,
the namespace's .2), starts a server in it (nginx, or gunicorn serving the petition app), and removes
all of it afterwards. Load sent to the namespace's address goes over the veth pair and nowhere else.
A WAN's round trip is made there too: iptables NFQUEUE rules in the namespace hand the server's packets
to a reader that holds each a fixed time (``delayed_port``), since this kernel has no netem. Making one
needs root, iproute2 and iptables (`make test` runs as root); a machine that cannot fails the test in
one line, it never skips."""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.servers import NGINX, _stop
from tests.system import require

_NET = ipaddress.ip_network("10.213.0.0/16")
_count = itertools.count()

_CONF = """
{user}
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format surge '$request_method $request_uri $status';
    access_log {tmp}/access.log surge;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen {address}:{port};
        root {tmp}/www;
{locations}
    }}
}}
"""
_STATIC = """        location / { try_files $uri /index.html; }
        location = /sign { return 200 "signed"; }
        location /.well-known/ { try_files $uri =404; }"""


def _ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["ip", *(["netns", "exec", ns, "ip"] if ns else []), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    if check and done.returncode != 0:
        pytest.fail(f"cannot make a network namespace for the test: `{' '.join(cmd)}` said "
                    f"{done.stderr.strip() or done.returncode!r} (the test needs root and iproute2)", pytrace=False)
    return done


def _free_subnet() -> ipaddress.IPv4Network:
    """A /30 of 10.213.0.0/16 that no interface on this machine uses (tests run side by side)."""
    used = _ip("-o", "-4", "addr", "show").stdout
    subnets = list(_NET.subnets(new_prefix=30))
    start = (os.getpid() * 8 + next(_count)) % len(subnets)
    for k in range(len(subnets)):
        net = subnets[(start + k) % len(subnets)]
        if f" {net[1]}/" not in used and f" {net[2]}/" not in used:
            return net
    pytest.fail("no free /30 in 10.213.0.0/16 for a test namespace", pytrace=False)


@contextlib.contextmanager
def namespace():
    """A network namespace of its own and a veth pair into it; yields (its name, the host's end's address, the
    namespace's address). Everything made is removed afterwards, the namespace's firewall rules with it."""
    require("ip", "iproute2")
    n = next(_count)
    ns, outer, inner = f"surge-t{os.getpid()}-{n}", f"sv{os.getpid()}o{n}"[:15], f"sv{os.getpid()}i{n}"[:15]
    try:
        _ip("netns", "add", ns)
        _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", ns)
        net = _free_subnet()
        host_end, site = net[1], net[2]
        _ip("addr", "add", f"{host_end}/30", "dev", outer)
        _ip("link", "set", outer, "up")
        _ip("addr", "add", f"{site}/30", "dev", inner, ns=ns)
        _ip("link", "set", inner, "up", ns=ns)
        _ip("link", "set", "lo", "up", ns=ns)
        yield ns, str(host_end), str(site)
    finally:
        _ip("link", "del", outer, check=False)  # its peer goes with it
        _ip("netns", "del", ns, check=False)


def _wait_listening(address: str, port: int, proc: subprocess.Popen, what: str, *, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while True:  # bounded: a server listens within a second or two
        try:
            socket.create_connection((address, port), timeout=0.5).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode()[-500:] if proc.stderr else ""
                pytest.fail(f"{what} did not start: {err}", pytrace=False)
            time.sleep(0.02)


@contextlib.contextmanager
def nginx_in_namespace(tmp: Path, ns: str, address: str, port: int, *, locations: str = _STATIC):
    """nginx inside ``ns`` on ``address:port`` with the server block's ``locations``, serving ``tmp/www``; yields
    its URL. Its access log, one ``METHOD URI STATUS`` line a request, is ``tmp/access.log``."""
    require(NGINX, "nginx")
    (tmp / "www").mkdir(parents=True, exist_ok=True)
    conf = tmp / "nginx.conf"
    conf.write_text(_CONF.format(tmp=tmp, address=address, port=port, locations=locations,
                                 user="user root;" if os.geteuid() == 0 else ""))
    proc = subprocess.Popen(["ip", "netns", "exec", ns, NGINX, "-c", str(conf), "-p", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_listening(address, port, proc, f"nginx in namespace {ns}")
        yield f"http://{address}:{port}"
    finally:
        _stop(proc, timeout_s=10)
        proc.stderr.close()


@contextlib.contextmanager
def namespace_site(tmp_path: Path):
    """nginx in a namespace of its own, answering every path (``/sign`` too) except ``/.well-known/`` files that
    are not there; yields (its URL, the folder it serves, its access log: one ``METHOD URI STATUS`` line a
    request)."""
    tmp = tmp_path / f"ns-site-{next(_count)}"
    (tmp / "www" / ".well-known").mkdir(parents=True)
    (tmp / "www" / "index.html").write_text("<!DOCTYPE html><title>petition</title><p>Sign the letter.</p>\n")
    with namespace() as (ns, _, site), nginx_in_namespace(tmp, ns, site, 8080) as url:
        yield url, tmp / "www", tmp / "access.log"


@contextlib.contextmanager
def delayed_port(ns: str, port: int, *, round_trip_ms: float, queue: int = 0):
    """A round trip of ``round_trip_ms`` to what listens on ``port`` inside ``ns``: every TCP packet to that port
    held that long on its way in (an iptables NFQUEUE rule and tests/validation/wan_delay.py reading the queue),
    the handshake's SYN included. Lasts until the block ends (the rule goes with the namespace).

    All of the delay on the way in, none on the way out: a request, its answer and a handshake take the
    same time as on a path of half the delay each way. A packet held on the way out (OUTPUT) would still
    count against its socket's TCP small queue, and the kernel would hold the socket's next segment
    until the first left: an answer's second segment a whole delay late, which no WAN does."""
    import sys

    iptables = require("/usr/sbin/iptables", "iptables")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "tests.validation.wan_delay",
                             "--queue", str(queue), "--delay-ms", f"{round_trip_ms:g}"], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        if proc.stdout.readline().strip() != "bound":  # bounded: the reader binds or exits at once
            pytest.fail(f"the NFQUEUE reader did not bind queue {queue}: {proc.stderr.read()[-500:]}", pytrace=False)
        cmd = ["ip", "netns", "exec", ns, iptables, "-A", "INPUT", "-p", "tcp", "--dport", str(port),
               "-j", "NFQUEUE", "--queue-num", str(queue)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        if done.returncode != 0:
            pytest.fail(f"`{' '.join(cmd)}` said {done.stderr.strip()}", pytrace=False)
        yield
    finally:
        _stop(proc, timeout_s=10)
        proc.stdout.close()
        proc.stderr.close()


@contextlib.contextmanager
def petition_in_namespace(tmp_path: Path, ns: str, address: str, *, server: str, workers: int, page: str,
                          port: int = 8000):
    """tests/validation/petition_app.py (page law ``page``) at ``address:port`` inside ``ns``; yields its URL.

    ``server`` "waitress": ``workers`` threads, whose connections waitress's own loop writes and closes;
    "gunicorn": ``workers`` sync worker processes, each of which also closes its connection itself
    (since gunicorn 25, after the client's FIN: a round trip more per request on a delayed path)."""
    import sys

    from tests.servers import _site_process

    serve = {"waitress": ["-m", "waitress", "--listen", f"{address}:{port}", "--threads", str(workers),
                          "--connection-limit", "1000"],
             "gunicorn": ["-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
                          "--bind", f"{address}:{port}", "--timeout", "120"]}[server]
    cmd = ["ip", "netns", "exec", ns, sys.executable, *serve, "tests.validation.petition_app:application"]
    env = {"PETITION_PAGE": page, "PETITION_DB": str(tmp_path / "petition.sqlite")}
    with _site_process(cmd, f"http://{address}:{port}", env) as url:
        yield url


def access_lines(log: Path, *, quiet_s: float = 0.3, timeout_s: float = 5.0) -> list[str]:
    """The access log's lines (``METHOD URI STATUS``), once it has not grown for ``quiet_s``: nginx writes a line
    as a request ends, a moment after its client has read the answer (bounded by ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now_size = log.stat().st_size if log.exists() else 0
        if now_size != size:
            size, since = now_size, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
        time.sleep(0.02)
    return log.read_text().splitlines() if log.exists() else []
