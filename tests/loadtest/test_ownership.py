"""Whether load may go to a host: loopback is free, any other host proves it wants the load, a first test is small.

The parts that send nothing (or only to loopback) are here; the proof against a host that is not loopback,
through every command, is in tests/cli/test_ownership_routes.py (a network namespace)."""

import contextlib
import http.server
import json
import stat
import threading

import pytest

from sim.errors import ConfigError
from sim.loadtest import ownership
from sim.loadtest.ownership import (FIRST_TEST_MAX_REQUESTS_PER_S, Ownership, check_ownership, check_rate,
                                    check_vouch, is_loopback, origin, store_path, token_for)
from tests.servers import loopback_server


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    monkeypatch.setenv(ownership.STORE_ENV, str(tmp_path / "config"))
    return tmp_path / "config" / "ownership.json"


@pytest.mark.parametrize("url, loopback", [
    ("http://127.0.0.1:8000", True), ("http://127.3.4.5", True), ("http://[::1]:8080/x", True),
    ("http://localhost:8000", True), ("https://LOCALHOST.", True),
    ("http://10.213.0.2:8080", False), ("http://128.0.0.1", False), ("http://localhost.example.org", False),
    ("http://[::2]", False), ("https://staging.example.org", False), ("http://0.0.0.0:8000", False),
])
def test_only_this_machines_loopback_needs_no_proof(url, loopback):
    assert is_loopback(url) is loopback


@pytest.mark.parametrize("url, home", [
    ("http://Staging.Example.org", "http://staging.example.org:80"),
    ("https://staging.example.org/campaign/", "https://staging.example.org:443"),
    ("http://10.213.0.2:8080/a", "http://10.213.0.2:8080"),
    ("http://[2001:DB8::1]:81", "http://[2001:db8::1]:81"),
])
def test_a_proof_is_for_an_origin_scheme_host_and_port(url, home):
    assert origin(url) == home


def test_the_token_is_the_same_for_one_site_and_differs_between_sites_and_users():
    a, b = "11" * 32, "22" * 32
    assert token_for(a, "http://staging.example.org/x") == token_for(a, "http://STAGING.example.org:80/")
    assert token_for(a, "http://staging.example.org") != token_for(a, "https://staging.example.org")
    assert token_for(a, "http://staging.example.org") != token_for(b, "http://staging.example.org")
    assert token_for(a, "http://staging.example.org").startswith("surge-verify-")


def test_the_store_is_where_the_user_sees_it(monkeypatch, tmp_path):
    monkeypatch.delenv(ownership.STORE_ENV)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert store_path() == tmp_path / "xdg" / "surge" / "ownership.json"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert store_path() == tmp_path / "home" / ".config" / "surge" / "ownership.json"


def test_loopback_is_let_through_without_a_request_a_file_or_a_word(store):
    said = []
    seen = __import__("collections").Counter()
    with loopback_server(seen=seen) as url:
        got = check_ownership(url, say=said.append)
    assert got == Ownership(host=origin(url), proof="loopback")
    assert not seen and not said and not store.exists()


def test_vouching_must_repeat_the_sites_origin():
    check_vouch("http://10.213.0.2:8080/campaign", "http://10.213.0.2:8080")
    with pytest.raises(ConfigError, match=r"^--i-control-this-host: names http://10.213.0.2:80, not the site the "
                                          r"load goes to \(http://10.213.0.2:8080\)"):
        check_vouch("http://10.213.0.2:8080", "http://10.213.0.2")
    with pytest.raises(ConfigError, match="^--i-control-this-host: must be a URL"):
        check_vouch("http://10.213.0.2:8080", "yes")


def test_a_vouched_host_is_not_fetched_and_says_so(store):
    said = []
    got = check_ownership("http://10.213.0.2:8080", vouch="http://10.213.0.2:8080/", say=said.append)
    assert got.proof == "vouched" and not got.first_test
    assert said == ["surge: http://10.213.0.2:8080 not checked: you vouch that you control it "
                    "(--i-control-this-host); summary.json records it"]


def test_a_broken_store_is_one_line_naming_it(store):
    store.parent.mkdir(parents=True)
    store.write_text("[1, 2]")
    with pytest.raises(ConfigError, match=f"^{store}: is not surge's store of proven hosts; delete it"):
        check_ownership("http://10.213.0.2:8080")


def test_the_store_is_private_and_keeps_the_token_handed_out(store, monkeypatch):
    monkeypatch.setattr(ownership, "_fetch", lambda url: (404, "", "it answered 404"))  # nothing is sent
    with pytest.raises(ConfigError) as err:
        check_ownership("http://10.213.0.2:8080")
    data = json.loads(store.read_text())
    token = data["tokens"]["http://10.213.0.2:8080"]
    assert token == token_for(data["secret"], "http://10.213.0.2:8080")
    assert str(err.value) == (
        f"--host: http://10.213.0.2:8080 has not proven that you control it: serve the line {token} at "
        f"http://10.213.0.2:8080/.well-known/surge-verify.txt (it answered 404; tokens are kept in {store}), "
        "or pass --i-control-this-host=http://10.213.0.2:8080 if you do; nothing was sent")
    assert stat.S_IMODE(store.stat().st_mode) == 0o600  # the secret is the user's alone


def test_a_first_test_is_held_to_its_limit_until_the_flag_lifts_it_for_good(store, monkeypatch):
    def serve(url):
        return 200, "another-users-token\n" + json.loads(store.read_text())["tokens"][origin(url)] + "\n", ""

    monkeypatch.setattr(ownership, "_fetch", serve)
    first = check_ownership("http://10.213.0.2:8080", say=lambda _: None)
    assert first.proof == "token" and first.first_test
    assert first.first_test_max_requests_per_s == FIRST_TEST_MAX_REQUESTS_PER_S == 10.0
    check_rate(first, 10.0, flag="--scale", lower="x")  # at the limit: let through
    with pytest.raises(ConfigError, match=r"^--scale: sends 10.5 requests/s at peak, more than the 10 requests/s "
                                          r"of a first test of http://10.213.0.2:8080: pass --scale 0.1 or lower, "
                                          r"or --lift-first-test-limit"):
        check_rate(first, 10.5, flag="--scale", lower="--scale 0.1 or lower")
    assert check_ownership("http://10.213.0.2:8080", say=lambda _: None).first_test  # still, until lifted
    lifted = check_ownership("http://10.213.0.2:8080", lift=True, say=lambda _: None)
    assert not lifted.first_test
    again = check_ownership("http://10.213.0.2:8080", say=lambda _: None)
    assert not again.first_test and again.first_test_max_requests_per_s is None
    check_rate(again, 1e6, flag="--scale", lower="x")
    assert json.loads(store.read_text())["proven"]["http://10.213.0.2:8080"]["first_test_limit"] is False


def test_a_ceiling_is_lowered_to_the_limit_for_a_first_test_only():
    first = Ownership(host="http://10.213.0.2:8080", proof="token", first_test=True)
    assert ownership.capped_rate(first, 400.0) == 10.0 and ownership.capped_rate(first, 4.0) == 4.0
    for other in (Ownership(host="http://10.213.0.2:8080", proof="token"),
                  Ownership(host="http://10.213.0.2:8080", proof="vouched"),
                  Ownership(host="http://127.0.0.1:8080", proof="loopback")):
        assert ownership.capped_rate(other, 400.0) == 400.0


def test_a_200_without_the_token_is_refused(monkeypatch):
    monkeypatch.setattr(ownership, "_fetch", lambda url: (200, "<html>not found</html>", "it answered 200"))
    with pytest.raises(ConfigError, match=r"\(it answered 200 without the token; tokens are kept in"):
        check_ownership("http://10.213.0.2:8080")


@contextlib.contextmanager
def _redirecting_server(other: str):
    """Loopback: /.well-known/surge-verify.txt redirects to /moved (same origin), /off to ``other``; every path
    asked for is listed."""
    asked = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            moves = {"/.well-known/surge-verify.txt": "/moved", "/off": other, "/loop": "/loop"}
            if self.path in moves:
                self.send_response(301)
                self.send_header("Location", moves[self.path])
                body = b""
            else:
                self.send_response(200)
                body = b"surge-verify-x\n"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_redirect_is_followed_within_the_origin_only_and_a_few_times_at_most():
    with _redirecting_server("http://127.0.0.2:9/") as (url, asked):
        assert ownership._fetch(url + "/.well-known/surge-verify.txt") == (200, "surge-verify-x\n", "it answered 200")
        assert ownership._fetch(url + "/off") == (301, "", "it answered 301, a redirect to http://127.0.0.2:9/ "
                                                          "(not followed: another origin)")
        assert ownership._fetch(url + "/loop")[2] == "it redirected more than 2 times"
    assert asked == ["/.well-known/surge-verify.txt", "/moved", "/off", "/loop", "/loop", "/loop"]


def test_the_readme_names_the_first_tests_limit_the_flags_the_path_and_the_store():
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Prove that the site is yours", 1)[1].split("\n## ", 1)[0]
    for text in (f"at most {FIRST_TEST_MAX_REQUESTS_PER_S:g} requests/s at the\nplan's peak", ownership.WELL_KNOWN_PATH,
                 ownership.VOUCH_FLAG, ownership.LIFT_FLAG, ownership.STORE_ENV, "$XDG_CONFIG_HOME/surge/ownership.json"):
        assert text in section, text


def test_the_readmes_refusal_is_what_surge_prints(monkeypatch, tmp_path):
    """README "Prove that the site is yours": its printed refusal, the token and the home folder shortened."""
    from tests.readme_output import printed_blocks, readme_section

    monkeypatch.delenv(ownership.STORE_ENV)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(ownership, "_fetch", lambda url: (404, "", "it answered 404"))  # nothing is sent
    with pytest.raises(ConfigError) as err:
        check_ownership("https://staging.example.org")
    token = json.loads(store_path().read_text())["tokens"]["https://staging.example.org:443"]
    printed = str(err.value).replace(token, "surge-verify-3f5f…").replace(str(tmp_path / "home"), "~")
    section = readme_section("Load-test a staging site with the same surge").split("### Prove that the site is yours")[1]
    (block,) = printed_blocks(section)
    assert block == [printed]
