"""surge report: one self-contained HTML page per run, load-test or sweep folder.

The page must open offline and by itself, so the tests check that nothing in it points
outside a ``data:`` URI, that every plot is inside it, that text from files is escaped,
and finally that a real browser (headless Chromium, over the DevTools protocol) shows
every image with no error and fetches nothing.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sim.cli import main
from tests.system import require
from sim.cli.figures import save_figure
from sim.output.report import Folder, load_folder, render
from sim.output.summary import summary_rows
from tests.conftest import SCENARIOS
from tests.output.test_plots import write_folder

CHROMIUM = Path("/usr/bin/chromium")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
URL_ATTRS = {"src", "href", "srcset", "action", "poster", "data", "formaction", "background"}


class _Page(HTMLParser):
    """Checks that tags nest and collects every attribute that could fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.urls: list[tuple[str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [(name, value or "") for name, value in attrs if name in URL_ATTRS]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def check_page(page: str, *, links: tuple[str, ...] = ()) -> _Page:
    """Assert the page is well nested and self-contained (but for ``links``, hrefs to files beside it);
    return what was parsed."""
    parsed = _Page()
    parsed.feed(page)
    parsed.close()
    assert page.startswith("<!DOCTYPE html>")
    assert parsed.errors == [] and parsed.stack == []
    assert "script" not in parsed.tags and "link" not in parsed.tags and "iframe" not in parsed.tags
    assert not re.search(r"https?://|url\(|@import", page, flags=re.I)
    outside = [(name, value[:40]) for name, value in parsed.urls
               if not value.startswith("data:image/png;base64,") and (name, value) not in {("href", x) for x in links}]
    assert outside == []
    return parsed


def short_scenario(tmp_path: Path) -> Path:
    text = (SCENARIOS / "steady.toml").read_text()
    text = re.sub(r"(?m)^duration_s = .*$", "duration_s = 300", text)
    text = re.sub(r"(?m)^warmup_s = .*$", "warmup_s = 30", text)
    path = tmp_path / "short.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("run")
    scenario = short_scenario(tmp)
    out = tmp / "out"
    assert main(["run", str(scenario), "--out", str(out)]) == 0
    (out / "scenario.toml").write_text(scenario.read_text() + '# a <script>alert("x")</script> & co\n')
    return out


def write_sweep(folder: Path, *, slo="p95<2s,lost_actions<1%", least=(2, None)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    followers = "traffic.shares[0].followers"
    (folder / "sweep.json").write_text(json.dumps({
        "scenario": "campaign <day>", "slo": slo, "points": 4, "replications": 3,
        "vary": [{"key": "site.app.instances", "values": [1, 4]}, {"key": followers, "values": [1e6, 1e7]}],
        "least_capacity": [{"surge": {followers: f}, "capacity_key": "site.app.instances", "least": x}
                           for f, x in zip((1e6, 1e7), least)],
    }))
    header = ["site.app.instances", followers, "page_response_s.p95", "page_response_s.p95_ci",
              "visitors.lost_fraction", "visitors.lost_fraction_ci", "actions.lost_fraction", "requests.error_fraction"]
    rows = [[1, 1e6, 3.5, 0.25, 0.08, 0.01, 0.1, 0.05], [4, 1e6, 0.75, 0.05, 0.0, 0.0, 0.0, 0.0],
            [1, 1e7, 9.5, 0.5, 0.6, 0.02, 0.7, 0.4], [4, 1e7, 4.25, 0.3, 0.2, 0.01, 0.3, 0.1]]
    (folder / "sweep.csv").write_text("\n".join(",".join(map(str, r)) for r in [header, *rows]) + "\n")

    def draw(fig):
        ax = fig.add_subplot()
        ax.plot([1, 4], [3.5, 0.75], marker="o")
        ax.set_xlabel("site.app.instances")

    save_figure(folder / "capacity.png", draw, figsize=(4, 3))
    return folder


def report(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(["report", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- run folders -----------------------------------------------------------------------
def test_run_report_is_one_self_contained_page(run_dir, capsys):
    code, out, err = report([str(run_dir)], capsys)
    assert code == 0, err
    page_path = run_dir / "report.html"
    assert page_path.is_file() and str(page_path) in out
    page = page_path.read_text()
    parsed = check_page(page)
    pngs = sorted(run_dir.glob("*.png"))
    assert {p.name for p in pngs} >= {"latency.png", "throughput.png", "queue.png"}
    for png in pngs:
        assert base64.b64encode(png.read_bytes()).decode() in page, png.name
    assert len([n for n, _ in parsed.urls if n == "src"]) == len(pngs)
    assert "<h1>steady</h1>" in page and "simulation run" in page
    assert "visitors arrived" in page and "completed pages p50 / p95 / p99" in page
    # surge run judged its default SLO (lost visitors: no action here): the verdict opens the page, the objective is in the SLO table
    assert page.index('class="banner good">holds') < page.index("<h2>Summary</h2>")
    assert "<code>lost_visitors&lt;1%</code>" in page  # steady: visitors take no action
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page  # scenario.toml, escaped


def test_run_report_judges_the_slo_given(run_dir, tmp_path, capsys):
    out = tmp_path / "page.html"
    code, _, err = report([str(run_dir), "--out", str(out), "--slo", "p95<100s,p50<1ms"], capsys)
    assert code == 0, err
    page = out.read_text()
    check_page(page)
    assert "1 of 2 objectives broken" in page
    assert re.search(r"<code>p95&lt;100s</code>.*?class=\"met\"", page)
    assert re.search(r"<code>p50&lt;1ms</code>.*?class=\"broken\"", page)
    assert not (run_dir / "report.html.tmp").exists()


def test_a_bad_slo_is_one_line_and_exit_code_2(run_dir, capsys):
    code, _, err = report([str(run_dir), "--out", os.devnull, "--slo", "p95<fast"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("--slo")


LOADTEST = {
    "kind": "loadtest", "plan": {"time_scale": 144, "scale": 0.001}, "aborted": "error rate 80% over the last 30 s",
    "visitors": {"target": 1000.0, "arrived": 900, "dropped": 50, "served": 700, "failed": 150, "lost": 200,
                 "lost_fraction": 0.21},
    "requests": {"arrived": 5000, "completed": 4000, "rejected": 900, "timed_out": 50, "errors_other": 50,
                 "error_fraction": 0.2, "by_status": {"200": 4000, "503": 900}},
    "page_response_s": {"p50": 0.05, "p95": 1.5, "p99": None},
    "actions": {"completed": 10, "lost": 5, "attempted": 15, "lost_fraction": 1 / 3},
    "slo": [{"objective": "p95<2s", "value": 1.5, "met": True}, {"objective": "errors<1%", "value": 0.2, "met": False},
            {"objective": "p99<3s", "value": None, "met": False}],
}


def test_a_load_test_shows_its_own_slo_dropped_visitors_and_abort(tmp_path):
    page = render(Folder(path=tmp_path, kind="loadtest", summary=LOADTEST))
    check_page(page)
    assert "load test" in page and "144× faster" in page
    assert "50 dropped by the load generator" in page and "503: 900" in page
    assert "The load test was aborted: error rate 80%" in page
    assert "2 of 3 objectives broken" in page and "1.50 s" in page and "20.0 %" in page and "not measured" in page
    assert "50 ms / 1.50 s / -" in page


def test_a_load_test_folder_puts_the_generator_verdict_first_then_both_latencies_figures_and_locust(tmp_path, capsys):
    folder, summary = write_folder(tmp_path / "lt")
    code, _, err = report([str(folder)], capsys)
    assert code == 0, err
    page = (folder / "report.html").read_text()
    parsed = check_page(page, links=("locust.html",))
    assert summary["generator"]["kept_up"] and round(summary["generator"]["lag_s"]["p99"], 5) == 0.00449
    banner = 'class="banner good">✔ The load generator kept up (lag p99 4.49 ms ≤ 10 ms).'
    assert banner in page and page.index(banner) < page.index("<h2>Summary</h2>")
    rows = dict(summary_rows(summary))
    planned, sent = rows["completed pages p50 / p95 / p99 (from the planned send)"], \
        rows["completed pages p50 / p95 / p99 (from the actual send)"]
    assert planned != sent and planned in page and sent in page
    for name in ("arrivals.png", "latency.png", "lag.png"):
        assert base64.b64encode((folder / name).read_bytes()).decode() in page, name
    assert page.index("arrivals.png") < page.index("latency.png") < page.index("lag.png")
    assert "from each request&#x27;s planned send" in page and "above the arrival rate" not in page  # not the run's
    assert ("href", "locust.html") in parsed.urls and "<h2>Locust's own report</h2>" in page


def test_a_generator_that_fell_behind_is_a_red_banner_and_links_follow_the_page(tmp_path):
    folder, summary = write_folder(tmp_path / "lt", late=True)
    g = summary["generator"]
    assert not g["kept_up"] and round(g["lag_s"]["p99"], 3) == 0.191
    page = render(load_folder(folder), page_dir=tmp_path / "pages")
    check_page(page, links=("../lt/locust.html",))
    assert ('class="banner bad">✘ The load generator fell behind (lag p99 191 ms '
            "&gt; 10 ms): the latencies measure the generator, not the site: run with more <code>--processes</code>."
            ) in page
    assert 'href="../lt/locust.html"' in page  # relative to where the page is written


def test_a_load_test_folder_without_locust_html_or_a_verdict(tmp_path):
    folder, _ = write_folder(tmp_path / "lt", locust=False)
    page = render(load_folder(folder))
    check_page(page)
    assert "Locust" not in page
    page = render(Folder(path=tmp_path, kind="loadtest", summary=LOADTEST))  # from before the generator's verdict
    assert "load generator kept up" not in page and "fell behind" not in page
    assert "completed pages p50 / p95 / p99<" in page  # one latency: no "(from the planned send)"
    loop = {**LOADTEST, "generator": {"kept_up": False, "threshold_s": 0.01, "lag_s": {"p99": 0.004},
                                      "loop_lag_s": {"p99": 0.25}}}
    assert "fell behind (event-loop lag p99 250 ms &gt; 10 ms)" in render(Folder(path=tmp_path, kind="loadtest",
                                                                                   summary=loop))


def test_confidence_half_widths_and_partial_runs(tmp_path):
    summary = {"scenario": "x", "partial": True, "end_s": 1200.0, "replications": 5,
               "visitors": {"arrived": 1000.4, "arrived_ci": 12.5, "lost": 3.0, "lost_ci": 0.0, "lost_fraction": 0.003},
               "page_response_s": {"p50": 0.2, "p50_ci": 0.01, "p95": 2.5, "p95_ci": 0.5, "p99": float("nan")}}
    rows = dict(summary_rows(summary))
    assert rows["visitors arrived"] == "1,000 ± 12.50"
    assert rows["visitors lost"] == "3 (0.3 %)"  # a zero half-width is not shown
    assert rows["completed pages p50 / p95 / p99"] == "200 ms ± 10 ms / 2.50 s ± 500 ms / -"
    assert "actions lost" not in rows  # missing figures are left out, not shown as errors
    page = render(Folder(path=tmp_path, kind="run", summary=summary))
    assert 'class="banner warn">⚠ Partial results' in page and "1,200 s" in page
    assert "means over 5 replications" in page
    check_page(render(Folder(path=tmp_path, kind="run", summary={})))


# -- sweep folders ---------------------------------------------------------------------
def test_sweep_report_shows_least_capacity_and_every_point(tmp_path, capsys):
    folder = write_sweep(tmp_path / "sweep")
    code, _, err = report([str(folder)], capsys)
    assert code == 0, err
    page = (folder / "report.html").read_text()
    check_page(page)
    assert "<h1>campaign &lt;day&gt;</h1>" in page and "sweep" in page
    assert "Least capacity that meets <code>p95&lt;2s,lost_actions&lt;1%</code>" in page
    assert "traffic.shares[0].followers = 1,000,000" in page and "none in the range" in page
    assert base64.b64encode((folder / "capacity.png").read_bytes()).decode() in page
    assert "Sweep points (4)" in page
    assert "3.50 s ± 250 ms" in page and "8.0 % ± 1.0 %" in page and "60.0 % ± 2.0 %" in page
    assert page.count('<span class="met">met</span>') == 1  # only 4 instances at 1e6 followers meets the SLO


def test_a_sweep_without_slo(tmp_path, capsys):
    folder = write_sweep(tmp_path / "sweep", slo=None, least=())
    code, _, err = report([str(folder), "--out", str(tmp_path / "r.html")], capsys)
    assert code == 0, err
    page = (tmp_path / "r.html").read_text()
    assert "None computed (the sweep had no SLO)" in page and "SLO: none given" in page


# -- bad folders -----------------------------------------------------------------------
def _bad(tmp_path: Path, case: str) -> Path:
    folder = tmp_path / "d"
    folder.mkdir()
    files = {
        "empty": {},
        "not-json": {"summary.json": "{not json", "timeseries.csv": "a\n"},
        "json-list": {"summary.json": "[1, 2]", "timeseries.csv": "a\n"},
        "not-utf8": {"summary.json": b"\xff\xfe{}", "timeseries.csv": "a\n"},
        "no-timeseries": {"summary.json": "{}"},
        "no-sweep-csv": {"sweep.json": "{}"},
        "sweep-not-json": {"sweep.json": "", "sweep.csv": "a\n1\n"},
        "sweep-bad-slo": {"sweep.json": '{"slo": "p95<soon"}', "sweep.csv": "a\n1\n"},
    }[case]
    for name, content in files.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


@pytest.mark.parametrize("case", ["missing", "file", "empty", "not-json", "json-list", "not-utf8", "no-timeseries",
                                  "no-sweep-csv", "sweep-not-json", "sweep-bad-slo"])
def test_bad_folders_exit_2_with_one_line_naming_the_path(tmp_path, capsys, case):
    if case == "missing":
        folder = tmp_path / "nowhere"
    elif case == "file":
        folder = tmp_path / "f.txt"
        folder.write_text("x")
    else:
        folder = _bad(tmp_path, case)
    code, _, err = report([str(folder)], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(folder)), err
    assert not (folder / "report.html").exists()


def test_an_unwritable_out_is_exit_2(run_dir, tmp_path, capsys):
    code, _, err = report([str(run_dir), "--out", str(tmp_path / "no" / "such" / "dir.html")], capsys)
    assert code == 2 and err.startswith("--out") and len(err.strip().splitlines()) == 1


# -- in a real browser -----------------------------------------------------------------
class Browser:
    """Headless Chromium driven over the DevTools protocol; every wait is bounded."""

    def __init__(self, profile: Path, timeout_s: float = 30) -> None:
        import websocket  # websocket-client, installed with locust

        self.timeout_s = timeout_s
        self.events: list[dict] = []
        self._id = 0
        profile.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
             "--remote-debugging-port=0", "--window-size=1200,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            port, path = self._devtools_port(profile / "DevToolsActivePort")
            self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=timeout_s,
                                                  suppress_origin=True)
            target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        except BaseException:
            self.close()
            raise

    def _devtools_port(self, path: Path) -> tuple[str, str]:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"chromium exited with code {self.proc.returncode} on start")
            lines = path.read_text().splitlines() if path.exists() else []
            if len(lines) >= 2:
                return lines[0], lines[1]
            time.sleep(0.05)
        pytest.fail(f"chromium did not open its DevTools port within {self.timeout_s:g} s")

    def _recv(self, deadline: float) -> dict:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no answer from chromium in time")
        self.ws.settimeout(remaining)
        return json.loads(self.ws.recv())

    def send(self, method: str, params: dict | None = None, *, session: bool = False) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + self.timeout_s
        while True:
            answer = self._recv(deadline)
            if answer.get("id") == self._id:
                assert "error" not in answer, f"{method}: {answer['error']}"
                return answer["result"]
            self.events.append(answer)

    def wait_for(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout_s
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._recv(deadline))

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
        assert "exceptionDetails" not in result, result
        return result["result"]["value"]

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the browser and its helpers, which it started
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def open_page(browser: Browser, page: Path, screenshot: Path) -> dict:
    """Load the page; return what a reader would notice: images, errors, requests to anywhere but the file."""
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.send(f"{domain}.enable", session=True)
    browser.events.clear()
    nav = browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session=True)
    assert "errorText" not in nav, nav
    browser.wait_for("Page.loadEventFired")
    images = browser.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
    all_shown = browser.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    height = browser.evaluate("document.documentElement.scrollHeight")
    shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": {
        "x": 0, "y": 0, "width": 1200, "height": min(height, 6000), "scale": 1}}, session=True)
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    events = browser.events
    return {
        "images": images, "all_shown": all_shown,
        "errors": [e["params"] for e in events if e.get("method") == "Runtime.exceptionThrown"
                   or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
                   or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "warning"))],
        "requests": [e["params"]["request"]["url"][:80] for e in events
                     if e.get("method") == "Network.requestWillBeSent"],
    }


def test_pages_open_offline_in_a_real_browser(run_dir, tmp_path, capsys):
    require(str(CHROMIUM), "chromium")
    sweep = write_sweep(tmp_path / "sweep")
    pages = []
    for folder in (run_dir, sweep):
        code, _, err = report([str(folder), "--out", str(tmp_path / f"{folder.name}.html")], capsys)
        assert code == 0, err
        pages.append((tmp_path / f"{folder.name}.html", len(list(folder.glob("*.png")))))
    browser = Browser(tmp_path / "chromium-profile")
    try:
        for page, n_png in pages:
            seen = open_page(browser, page, page.with_suffix(".screenshot.png"))
            assert len(seen["images"]) == n_png and seen["all_shown"], seen["images"]
            assert seen["errors"] == []
            assert all(url.startswith(("file:", "data:")) for url in seen["requests"]), seen["requests"]
            shot = page.with_suffix(".screenshot.png").read_bytes()
            assert shot.startswith(b"\x89PNG") and len(shot) > 10_000
    finally:
        browser.close()


def test_a_load_test_page_opens_offline_in_a_real_browser(tmp_path, capsys):
    require(str(CHROMIUM), "chromium")
    folder, _ = write_folder(tmp_path / "lt", late=True)
    code, _, err = report([str(folder)], capsys)
    assert code == 0, err
    browser = Browser(tmp_path / "chromium-profile")
    try:
        seen = open_page(browser, folder / "report.html", tmp_path / "lt.screenshot.png")
        assert len(seen["images"]) == 3 and seen["all_shown"], seen["images"]
        assert seen["errors"] == []
        assert all(url.startswith(("file:", "data:")) for url in seen["requests"]), seen["requests"]
        assert browser.evaluate("document.querySelector('.banner.bad').getBoundingClientRect().top") < \
            browser.evaluate("document.querySelector('h2').getBoundingClientRect().top")  # the verdict comes first
        assert browser.evaluate("new URL(document.querySelector('a').href).pathname") == \
            (folder / "locust.html").resolve().as_posix()
    finally:
        browser.close()
