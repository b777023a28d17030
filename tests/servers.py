"""Tiny loopback HTTP servers for load tests: they start on a free port and stop by themselves."""

from __future__ import annotations

import collections
import contextlib
import http.server
import threading
from pathlib import Path


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
def nginx_server(tmp_path, *, extra: str = "", proxy_to: str | None = None, limit_conn: int | None = None,
                 fastcgi_to: tuple[str, str] | None = None):
    """Real nginx on 127.0.0.1 serving a static page (every path; POST /sign answers 200); yields its URL.

    ``extra`` is more nginx configuration inside the server block (e.g. a proxy_pass location).
    ``proxy_to``: a reverse proxy to that URL instead (every path); ``limit_conn``: at most that many
    requests in progress at once, the rest answered 503 at once (nginx's limit_conn).
    ``fastcgi_to``: (FastCGI address HOST:PORT, script) instead: every path passed to that one PHP script."""
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
    if fastcgi_to is not None:
        address, script = fastcgi_to
        locations = (f"        location / {{ fastcgi_pass {address}; include /etc/nginx/fastcgi_params; "
                     f"fastcgi_param SCRIPT_FILENAME {script}; fastcgi_read_timeout 120s; }}")
    elif proxy_to is None:
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
def demo_site(*, workers: int, service_ms: float, queue_limit: int, times_log=None, seed: int | None = None):
    """The bundled demo site (``surge demo-site``) in its own process on 127.0.0.1; yields its URL.
    ``times_log``: its ``--times-log``, each request's time in its slot."""
    import sys

    port = _free_port()
    with _site_process([sys.executable, "-m", "sim", "demo-site", "--port", str(port), "--workers", str(workers),
                        "--service-ms", str(service_ms), "--queue-limit", str(queue_limit),
                        *(["--times-log", str(times_log)] if times_log else []),
                        *(["--seed", str(seed)] if seed is not None else [])],
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


_PHP_DIR = Path(__file__).resolve().parent / "validation" / "php"


def _wait_listening(proc, port: int, what: str, log: Path, *, limit_s: float = 30.0) -> None:
    """Wait (bounded) until ``port`` on 127.0.0.1 accepts a connection; raise with ``log``'s tail if not."""
    import socket
    import time

    deadline = time.monotonic() + limit_s
    while True:  # bounded by limit_s: each part listens within a few seconds
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"{what} did not start (exit {proc.poll()}): {tail}") from None
            time.sleep(0.05)


@contextlib.contextmanager
def mariadb_server(tmp_path):
    """MariaDB on 127.0.0.1 as a plain process (data in ``tmp_path``, not the system's service): yields its port.

    The petition database, its table and its user (petition / petition, from 127.0.0.1) are made by
    tests/validation/php/schema.sql at start."""
    import os
    import subprocess

    from tests.system import require

    # Debian's mariadb-server (`make test` installs it: tools/system-packages)
    mariadbd = require("/usr/sbin/mariadbd", "mariadb-server")
    install_db = require("/usr/bin/mariadb-install-db", "mariadb-server")
    tmp = tmp_path / "mariadb"
    tmp.mkdir(parents=True)
    # As root mariadbd refuses to run unless told the user; --no-defaults: not the system's /etc/mysql.
    user = ["--user=root"] if os.geteuid() == 0 else []
    # A small redo log and buffer pool: the petition's table is tiny, and the defaults (96 MB, 128 MB) cost disk
    # and memory on a shared test machine for nothing.
    common = ["--no-defaults", f"--datadir={tmp / 'data'}", *user, "--innodb-log-file-size=8M"]
    log = tmp / "error.log"
    subprocess.run([install_db, *common, "--auth-root-authentication-method=normal", "--skip-test-db"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    port = _free_port()
    socket_path = tmp / "mariadb.sock"
    if len(str(socket_path)) > 100:  # a unix socket's path is at most 107 bytes; mariadbd makes one always
        socket_path = Path("/tmp") / f"surge-mariadb-{port}.sock"
    proc = subprocess.Popen([mariadbd, *common, "--bind-address=127.0.0.1", f"--port={port}",
                             f"--socket={socket_path}", f"--pid-file={tmp / 'mariadb.pid'}", f"--log-error={log}",
                             f"--tmpdir={tmp}", "--innodb-buffer-pool-size=32M", "--skip-name-resolve",
                             f"--init-file={_PHP_DIR / 'schema.sql'}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(proc, port, "mariadbd", log)
        yield port
    finally:
        _stop(proc, timeout_s=30)


_PHP_FPM_CONF = """
[global]
pid = {tmp}/php-fpm.pid
error_log = {tmp}/php-fpm.log
daemonize = no

[petition]
{user}
listen = 127.0.0.1:{port}
; every request nginx passes waits here for a child, as in a site's pool: not refused before 4096
listen.backlog = 4096
pm = static
pm.max_children = {children}
env[PETITION_PAGE] = {page}
env[PETITION_DB_HOST] = 127.0.0.1
env[PETITION_DB_PORT] = {db_port}
{times}
; the time each request held its child, as the pool itself measures it: the stack's true service
access.log = {tmp}/access.log
access.format = "%{{%s}}T %m %r %{{mili}}d"
php_admin_flag[log_errors] = on
php_admin_value[error_log] = {tmp}/php-errors.log
"""


@contextlib.contextmanager
def php_fpm(tmp_path, *, children: int, page: str, db_port: int, times=None):
    """PHP-FPM (a static pool of ``children``) on 127.0.0.1 as a plain process: yields its FastCGI address.

    The pool's pages (tests/validation/php/index.php) spend the law ``page`` in MariaDB at ``db_port``;
    ``times``: a folder where each child logs when each request entered and left it (as gunicorn_site's)."""
    import os
    import subprocess

    from tests.system import require

    # Debian's php-fpm: the binary carries PHP's version (php-fpm8.2 on bookworm)
    binary = require("/usr/sbin/php-fpm*", "php-fpm")
    tmp = tmp_path / "php-fpm"
    tmp.mkdir(parents=True)
    port = _free_port()
    # As root the pool must name a user (and the master be started with -R): root, who can read the temporary folder.
    user = "user = root\ngroup = root" if os.geteuid() == 0 else ""
    conf = tmp / "php-fpm.conf"
    conf.write_text(_PHP_FPM_CONF.format(tmp=tmp, user=user, port=port, children=children, page=page,
                                         db_port=db_port,
                                         times=f"env[PETITION_TIMES] = {times}" if times else ""))
    cmd = [binary, "-F", "-y", str(conf), *(["-R"] if os.geteuid() == 0 else [])]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(proc, port, "php-fpm", tmp / "php-fpm.log")
        yield f"127.0.0.1:{port}"
    finally:
        _stop(proc, timeout_s=20)


def php_service_ms(tmp_path, *, method: str = "GET", path: str = "/", since_s: float = 0.0,
                   until_s: float = float("inf")) -> list[float]:
    """The milliseconds each ``method path`` request of ``php_site(tmp_path, ...)`` held its PHP-FPM child so far,
    from the pool's access log (what the child spent from taking the request to answering it); with ``since_s``
    and ``until_s`` (Unix seconds), only the requests answered within them (to the whole second)."""
    log = tmp_path / "php-fpm" / "access.log"
    times = []
    for line in log.read_text().splitlines():
        done_s, got_method, uri, ms = line.split(" ")
        if got_method == method and uri.split("?")[0] == path and since_s <= int(done_s) + 1 and int(done_s) <= until_s:
            times.append(float(ms))
    return times


@contextlib.contextmanager
def php_site(tmp_path, *, children: int, page: str, times=None):
    """nginx -> PHP-FPM (a static pool of ``children``) -> MariaDB, each a plain process on 127.0.0.1: yields
    the URL of the petition (tests/validation/php/index.php; its page law ``page`` is time spent in MariaDB).
    ``times``: as php_fpm's."""
    import urllib.request

    with mariadb_server(tmp_path) as db_port, php_fpm(tmp_path, children=children, page=page,
                                                       db_port=db_port, times=times) as fastcgi, \
            nginx_server(tmp_path, fastcgi_to=(fastcgi, str(_PHP_DIR / "index.php"))) as url:
        try:  # a page through every part: a missing php-mysql or a refused database user shows here
            with urllib.request.urlopen(url + "/", timeout=10) as resp:
                resp.read()
        except OSError as exc:
            log = tmp_path / "php-fpm" / "php-errors.log"
            raise RuntimeError(f"the PHP petition page failed ({exc}): "
                               f"{log.read_text()[-2000:] if log.exists() else ''}") from None
        yield url
