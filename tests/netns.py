"""A site at an address that is not loopback, without leaving the machine: nginx inside a network namespace.

The test makes the namespace and a veth pair with a private /30 of 10.213.0.0/16 (the host's end .1,
the namespace's .2), starts nginx in it, and removes all of it afterwards. Load sent to the namespace's
address goes over the veth pair and nowhere else. Making one needs root and iproute2 (`make test` runs
as root); a machine that cannot fails the test in one line, it never skips.
"""

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
        location / {{ try_files $uri /index.html; }}
        location = /sign {{ return 200 "signed"; }}
        location /.well-known/ {{ try_files $uri =404; }}
    }}
}}
"""


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
def namespace_site(tmp_path: Path):
    """nginx in a namespace of its own, answering every path (``/sign`` too) except ``/.well-known/`` files that
    are not there; yields (its URL, the folder it serves, its access log: one ``METHOD URI STATUS`` line a
    request)."""
    require("ip", "iproute2")
    require(NGINX, "nginx")
    n = next(_count)
    ns, outer, inner = f"surge-t{os.getpid()}-{n}", f"sv{os.getpid()}o{n}"[:15], f"sv{os.getpid()}i{n}"[:15]
    tmp = tmp_path / f"ns-site-{n}"
    (tmp / "www" / ".well-known").mkdir(parents=True)
    (tmp / "www" / "index.html").write_text("<!DOCTYPE html><title>petition</title><p>Sign the letter.</p>\n")
    proc = None
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
        port = 8080
        conf = tmp / "nginx.conf"
        conf.write_text(_CONF.format(tmp=tmp, address=site, port=port,
                                     user="user root;" if os.geteuid() == 0 else ""))
        proc = subprocess.Popen(["ip", "netns", "exec", ns, NGINX, "-c", str(conf), "-p", str(tmp)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:  # bounded: nginx listens within milliseconds
            try:
                socket.create_connection((str(site), port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"nginx in namespace {ns} did not start: {proc.stderr.read().decode()[-500:]}",
                                pytrace=False)
                time.sleep(0.02)
        yield f"http://{site}:{port}", tmp / "www", tmp / "access.log"
    finally:
        if proc is not None:
            _stop(proc, timeout_s=10)
            proc.stderr.close()
        _ip("link", "del", outer, check=False)  # its peer goes with it
        _ip("netns", "del", ns, check=False)


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
