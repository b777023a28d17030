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


NGINX = "/usr/sbin/nginx"  # Debian's nginx (.ci/run installs it)

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
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {tmp}/www;
        location / {{ try_files $uri /index.html; }}
        location = /sign {{ return 200 "signed"; }}
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
def nginx_server(tmp_path, *, extra: str = ""):
    """Real nginx on 127.0.0.1 serving a static page (every path; POST /sign answers 200); yields its URL.

    ``extra`` is more nginx configuration inside the server block (e.g. a proxy_pass location)."""
    import os
    import socket
    import subprocess
    import time

    import pytest

    if not os.path.exists(NGINX):
        if os.environ.get("CI"):
            raise RuntimeError(f"{NGINX} is missing: .ci/run installs Debian's nginx")
        pytest.skip(f"{NGINX} is absent (apt-get install nginx); CI runs this test")
    tmp = tmp_path / "nginx"
    (tmp / "www").mkdir(parents=True)
    (tmp / "www" / "index.html").write_text("<!DOCTYPE html><title>petition</title><p>Sign the letter.</p>\n")
    port = _free_port()
    conf = tmp / "nginx.conf"
    # As root, nginx's workers would drop to nobody, who cannot read the test's private temporary folder.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(_NGINX_CONF.format(tmp=tmp, port=port, extra=extra, user=user))
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
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
