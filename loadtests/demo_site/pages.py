"""The demo site's content and routes: a landing page, two assets, an action page and a petition.

Kept apart from the server so the routes are plain functions of the request
(method, path, headers, body) that a test can read at a glance. The pages are
small but real: the landing page references both assets, and the action page's
form posts exactly the fields that ``[loadtest.site].submit_fields`` sends by
default (name, email, zip). The paths match ``LoadtestSiteConfig``'s defaults.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from dataclasses import dataclass
from typing import Callable, Mapping

__all__ = ["Response", "route", "validate_signature", "text_response", "ROUTES", "FORM_FIELDS"]

FORM_FIELDS = ("name", "email", "zip")

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True, kw_only=True)
class Response:
    """What a route answers; the server adds Content-Length, Connection and the timing headers."""

    status: int
    body: bytes = b""
    content_type: str = TEXT
    headers: tuple[tuple[str, str], ...] = ()


def text_response(status: int, text: str, *headers: tuple[str, str]) -> Response:
    return Response(status=status, body=text.encode(), content_type=TEXT, headers=tuple(headers))


_LANDING = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Speak up for the river</title>
<link rel="stylesheet" href="/static/site.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<header><h1>Speak up for the river</h1></header>
<main>
<p>The river that feeds our towns is about to lose its protection. Congress votes next week.</p>
<p>It takes thirty seconds to tell your representative where you stand.</p>
<p><a class="cta" href="/act">Sign the petition</a></p>
</main>
<footer>A demo site bundled with surge, for load tests only.</footer>
</body>
</html>
"""

_ACT = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign the petition</title>
<link rel="stylesheet" href="/static/site.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<header><h1>Sign the petition</h1></header>
<main>
<form id="petition" method="post" action="/sign">
<label>Name <input name="name" required maxlength="200" autocomplete="name"></label>
<label>Email <input name="email" type="email" required maxlength="254" autocomplete="email"></label>
<label>ZIP code <input name="zip" required pattern="[0-9]{5}(-[0-9]{4})?" autocomplete="postal-code"></label>
<button type="submit">Add my name</button>
</form>
</main>
</body>
</html>
"""

_THANKS = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Thank you</title><link rel="stylesheet" href="/static/site.css"></head>
<body><main><h1>Thank you, {name}</h1><p>Your signature number {number} is stored.</p></main></body>
</html>
"""

_CSS = """body { font-family: system-ui, sans-serif; margin: 0; color: #1b1b1b; background: #fafaf7; }
header { background: #0b5563; color: #fff; padding: 1.5rem 1rem; }
main { max-width: 36rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
a.cta, button { display: inline-block; background: #d1495b; color: #fff; border: 0; border-radius: 4px;
  padding: .75rem 1.25rem; font-size: 1.1rem; text-decoration: none; cursor: pointer; }
label { display: block; margin: 0 0 1rem; }
input { display: block; width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; }
footer { text-align: center; font-size: .8rem; color: #666; padding: 2rem 1rem; }
"""

_JS = """// Progressive enhancement: the form works without this file.
// Stop double submits (each would be a second signature) and check the ZIP before sending.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("petition");
  if (!form) { return; }
  form.addEventListener("submit", function (event) {
    var zip = form.elements["zip"].value.trim();
    if (!/^[0-9]{5}(-[0-9]{4})?$/.test(zip)) {
      event.preventDefault();
      form.elements["zip"].focus();
      return;
    }
    form.querySelector("button").disabled = true;
  });
});
"""

_STATIC_CACHE = ("Cache-Control", "public, max-age=300")
_PAGE_CACHE = ("Cache-Control", "no-cache")


def _page(text: str, *headers: tuple[str, str]) -> Callable[..., Response]:
    body = text.encode()

    def serve(**_) -> Response:
        return Response(status=200, body=body, content_type=HTML, headers=headers)

    return serve


def _asset(text: str, content_type: str) -> Callable[..., Response]:
    body = text.encode()

    def serve(**_) -> Response:
        return Response(status=200, body=body, content_type=content_type, headers=(_STATIC_CACHE,))

    return serve


_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
_ZIP = re.compile(r"^[0-9]{5}(-[0-9]{4})?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_signature(body: bytes, content_type: str) -> tuple[dict[str, str] | None, list[str]]:
    """The form's fields, or None and the problems (one line each) that make it a 400."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        return None, [f"Content-Type: must be application/x-www-form-urlencoded, got {media_type or 'none'!r}"]
    try:
        text = body.decode("utf-8")
        parsed = urllib.parse.parse_qs(text, keep_blank_values=True, max_num_fields=32, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None, ["body: must be UTF-8 form data with at most 32 fields"]
    problems, fields = [], {}
    for key in FORM_FIELDS:
        values = parsed.get(key, [])
        if len(values) != 1:
            problems.append(f"{key}: must be given once, got {len(values)} values")
            continue
        fields[key] = values[0].strip()
    if "name" in fields and not (1 <= len(fields["name"]) <= 200 and not _CONTROL.search(fields["name"])):
        problems.append("name: must be 1 to 200 printable characters")
    if "email" in fields and not (len(fields["email"]) <= 254 and _EMAIL.match(fields["email"])):
        problems.append("email: must look like someone@example.org")
    if "zip" in fields and not _ZIP.match(fields["zip"]):
        problems.append("zip: must be a US ZIP code: 5 digits, or 5+4 like 10001-1234")
    return (None, problems) if problems else (fields, [])


def _sign(*, body: bytes, headers: Mapping[str, str], store_signature: Callable[[str, str, str], int]) -> Response:
    fields, problems = validate_signature(body, headers.get("content-type", ""))
    if fields is None:
        return text_response(400, "could not sign:\n" + "\n".join(problems) + "\n")
    number = store_signature(fields["name"], fields["email"], fields["zip"])  # committed, or it raised
    page = _THANKS.format(name=html.escape(fields["name"]), number=number)
    return Response(status=201, body=page.encode(), content_type=HTML,
                    headers=(("Location", f"/signatures/{number}"),))


# path -> {method: handler}; HEAD is answered like GET without the body.
ROUTES: dict[str, dict[str, Callable[..., Response]]] = {
    "/": {"GET": _page(_LANDING, _PAGE_CACHE)},
    "/act": {"GET": _page(_ACT, _PAGE_CACHE)},
    "/static/site.css": {"GET": _asset(_CSS, "text/css; charset=utf-8")},
    "/static/app.js": {"GET": _asset(_JS, "text/javascript; charset=utf-8")},
    "/sign": {"POST": _sign},
}


def route(method: str, path: str, *, headers: Mapping[str, str], body: bytes,
          store_signature: Callable[[str, str, str], int]) -> Response:
    """Answer one request (``/healthz`` is the server's own business, not a route here)."""
    methods = ROUTES.get(path)
    if methods is None:
        return text_response(404, f"not found: {path}\n")
    handler = methods.get("GET" if method == "HEAD" and "GET" in methods else method)
    if handler is None:
        allowed = sorted(set(methods) | ({"HEAD"} if "GET" in methods else set()))
        return text_response(405, f"method {method} not allowed on {path}\n", ("Allow", ", ".join(allowed)))
    return handler(body=body, headers=headers, store_signature=store_signature)
