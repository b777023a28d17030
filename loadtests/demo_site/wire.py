"""The demo site's HTTP/1.1 on the wire: parse a request head, write a response and close.

Small and strict on purpose: the site reads one request per connection (with
Content-Length, never chunked) and answers with ``Connection: close``, so the
only HTTP it needs is this. Limits keep a malformed or hostile client from
holding memory: the head is at most ``MAX_HEAD_BYTES``, the body at most
``MAX_BODY_BYTES`` (a petition form is a few hundred bytes).
"""

from __future__ import annotations

import email.utils
import http
import socket
from urllib.parse import urlsplit

from loadtests.demo_site.pages import Response

__all__ = ["BadRequest", "parse_head", "send_response", "MAX_HEAD_BYTES", "MAX_BODY_BYTES", "SEND_TIMEOUT_S"]

MAX_HEAD_BYTES = 16 * 1024   # request line and headers
MAX_BODY_BYTES = 64 * 1024   # a petition form is a few hundred bytes
SEND_TIMEOUT_S = 5.0         # a response must be taken by the client within this


class BadRequest(Exception):
    """A request the acceptor refuses before it reaches a worker; ``status`` is the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_head(raw: bytes) -> tuple[str, str, dict[str, str], int]:
    """Method, path, lower-cased headers and Content-Length of a request head."""
    try:
        text = raw.decode("latin-1")
        request_line, *header_lines = text.split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        raise BadRequest(400, "malformed request line") from None
    if not version.startswith("HTTP/1."):
        raise BadRequest(505, f"unsupported version {version!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(400, f"malformed header line {line!r}")
        headers[name.lower()] = value.strip()
    if "transfer-encoding" in headers:
        raise BadRequest(411, "chunked bodies are not supported; send Content-Length")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise BadRequest(400, "Content-Length: must be a whole number") from None
    if length < 0:
        raise BadRequest(400, "Content-Length: must be >= 0")
    if length > MAX_BODY_BYTES:
        raise BadRequest(413, f"body larger than {MAX_BODY_BYTES} bytes")
    path = urlsplit(target).path or "/"
    return method, path, headers, length


def send_response(sock: socket.socket, resp: Response, *, head_only: bool, service_ms: float, queue_ms: float) -> None:
    """Write the response with Content-Length and Connection: close, then close the socket."""
    lines = [
        f"HTTP/1.1 {resp.status} {http.HTTPStatus(resp.status).phrase}",
        f"Date: {email.utils.formatdate(usegmt=True)}",
        "Server: surge-demo-site",
        f"Content-Type: {resp.content_type}",
        f"Content-Length: {len(resp.body)}",
        "Connection: close",
        f"X-Service-Ms: {service_ms:.3f}",
        f"X-Queue-Ms: {queue_ms:.3f}",
        *(f"{name}: {value}" for name, value in resp.headers),
    ]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else resp.body)
    try:
        sock.settimeout(SEND_TIMEOUT_S)
        sock.sendall(data)
    except OSError:
        pass  # the client left; nothing to do but close
    finally:
        sock.close()
