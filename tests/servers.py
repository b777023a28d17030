"""Tiny loopback HTTP servers for load tests: they start on a free port and stop by themselves."""

from __future__ import annotations

import collections
import contextlib
import http.server
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200
    seen: collections.Counter | None = None  # when given: (method, path, body, client address) -> requests
    lock = threading.Lock()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        sent = self.rfile.read(length).decode() if length else ""
        if self.seen is not None:
            with self.lock:
                self.seen[(self.command, self.path, sent, self.client_address[0])] += 1
        body = b"ok"
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:  # quiet
        pass


@contextlib.contextmanager
def loopback_server(status: int = 200, *, seen: collections.Counter | None = None):
    """A threaded server on 127.0.0.1 answering every request with ``status``; yields its URL.

    With ``seen``, each request is counted there by (method, path, body, client address)."""
    handler = type("Handler", (_Handler,), {"status": status, "seen": seen, "lock": threading.Lock()})
    # The standard listen backlog of 5 refuses connections under a burst of arrivals.
    server_class = type("Server", (http.server.ThreadingHTTPServer,), {"request_queue_size": 1024})
    server = server_class(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


NGINX = "/usr/sbin/nginx"  # Debian's nginx (`make test` installs it: tools/system-packages)

_NGINX_CONF = """
{user}
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_timeout 5;
{http_extra}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {tmp}/www;
{locations}
{extra}
    }}
}}
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def nginx_server(tmp_path, *, extra: str = "", proxy_to: str | None = None, limit_conn: int | None = None):
    """Real nginx on 127.0.0.1 serving a static page (every path; POST /sign answers 200); yields its URL.

    ``extra`` is more nginx configuration inside the server block (e.g. a proxy_pass location).
    ``proxy_to``: a reverse proxy to that URL instead (every path); ``limit_conn``: at most that many
    requests in progress at once, the rest answered 503 at once (nginx's limit_conn)."""
    import os
    import socket
    import subprocess
    import time

    from tests.system import require

    require(NGINX, "nginx")
    tmp = tmp_path / "nginx"
    (tmp / "www").mkdir(parents=True)
    (tmp / "www" / "index.html").write_text("<!DOCTYPE html><title>petition</title><p>Sign the letter.</p>\n")
    port = _free_port()
    conf = tmp / "nginx.conf"
    # As root, nginx's workers would drop to nobody, who cannot read the test's private temporary folder.
    user = "user root;" if os.geteuid() == 0 else ""
    if proxy_to is None:
        locations = '        location / {{ try_files $uri /index.html; }}\n        location = /sign {{ return 200 "signed"; }}'
        locations = locations.replace("{{", "{").replace("}}", "}")
    else:
        limit = f"limit_conn site {limit_conn}; limit_conn_status 503; " if limit_conn else ""
        locations = f"        location / {{ {limit}proxy_pass {proxy_to}; proxy_read_timeout 60s; }}"
    # keyed by the client address: every test client is 127.0.0.1 (an empty key, as $server_name is here, counts nothing)
    http_extra = "    limit_conn_zone $binary_remote_addr zone=site:1m;" if limit_conn else ""
    conf.write_text(_NGINX_CONF.format(tmp=tmp, port=port, extra=extra, user=user, locations=locations,
                                       http_extra=http_extra))
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:  # bounded: nginx listens within milliseconds
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {proc.stderr.read().decode()[-2000:]}")
                time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc, timeout_s=10)
        proc.stderr.close()


def _stop(proc, *, timeout_s: float) -> None:
    """SIGTERM, then SIGKILL if it has not gone within ``timeout_s``."""
    import subprocess

    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def _site_process(cmd: list[str], url: str, env: dict | None = None):
    """Start a server process, wait (bounded) until it answers GET /healthz, yield, then stop it."""
    import os
    import subprocess
    import time
    import urllib.request
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(cmd, cwd=root, env={**os.environ, "PYTHONPATH": str(root), **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:  # bounded: a server answers within a few seconds
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{cmd[0]} did not answer {url}/healthz (exit {proc.poll()})") from None
                time.sleep(0.1)
        yield url
    finally:
        _stop(proc, timeout_s=20)


@contextlib.contextmanager
def demo_site(*, workers: int, service_ms: float, queue_limit: int, times_log=None):
    """The bundled demo site (``surge demo-site``) in its own process on 127.0.0.1; yields its URL.
    ``times_log``: its ``--times-log``, each request's time in its slot."""
    import sys

    port = _free_port()
    with _site_process([sys.executable, "-m", "sim", "demo-site", "--port", str(port), "--workers", str(workers),
                        "--service-ms", str(service_ms), "--queue-limit", str(queue_limit),
                        *(["--times-log", str(times_log)] if times_log else [])],
                       f"http://127.0.0.1:{port}") as url:
        yield url


@contextlib.contextmanager
def gunicorn_site(tmp_path, *, workers: int, page: str, backlog: int = 2048, times=None):
    """gunicorn sync workers serving tests/validation/petition_app.py (page law ``page``) on 127.0.0.1;
    ``times``: a folder for the app's log of each request's time in it (``PETITION_TIMES``)."""
    import sys

    port = _free_port()
    cmd = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
           "--bind", f"127.0.0.1:{port}", "--backlog", str(backlog), "--timeout", "120",
           "tests.validation.petition_app:application"]
    env = {"PETITION_PAGE": page, "PETITION_DB": str(tmp_path / "petition.sqlite"),
           **({"PETITION_TIMES": str(times)} if times else {})}
    with _site_process(cmd, f"http://127.0.0.1:{port}", env) as url:
        yield url


@contextlib.contextmanager
def waitress_site(tmp_path, *, threads: int, page: str, times=None):
    """waitress (threads, HTTP/1.1 keep-alive) serving tests/validation/petition_app.py on 127.0.0.1
    (``times``: as gunicorn_site's)."""
    import sys

    port = _free_port()
    cmd = [sys.executable, "-m", "waitress", "--listen", f"127.0.0.1:{port}", "--threads", str(threads),
           "--connection-limit", "1000", "tests.validation.petition_app:application"]
    env = {"PETITION_PAGE": page, "PETITION_DB": str(tmp_path / "petition.sqlite"),
           **({"PETITION_TIMES": str(times)} if times else {})}
    with _site_process(cmd, f"http://127.0.0.1:{port}", env) as url:
        yield url


@contextlib.contextmanager
def delay_site(tmp_path, *, delay_ms: float, threads: int = 32):
    """waitress serving tests/delay_app.py: every page after ``delay_ms``; yields (URL, the app's log of
    the time each page spent in the app). ``threads`` well above the pages in flight, so none waits."""
    import sys

    port = _free_port()
    log = tmp_path / "delay.log"
    cmd = [sys.executable, "-m", "waitress", "--listen", f"127.0.0.1:{port}", "--threads", str(threads),
           "--connection-limit", "1000", "tests.delay_app:application"]
    with _site_process(cmd, f"http://127.0.0.1:{port}", {"DELAY_MS": str(delay_ms), "DELAY_LOG": str(log)}) as url:
        yield url, log


def round_trips_s(url: str, path: str, count: int = 300) -> list[float]:
    """``count`` sequential GETs of ``path``, each on a new connection (as a load-test visitor opens one):
    the seconds each took, the loopback and server overhead of a page answered at once."""
    import http.client
    import time
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    times = []
    for _ in range(count):  # bounded: ``count`` requests of about a millisecond
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        try:
            conn.request("GET", path)
            conn.getresponse().read()
        finally:
            conn.close()
        times.append(time.perf_counter() - t0)
    return times
