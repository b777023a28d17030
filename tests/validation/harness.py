"""One row of the validation matrix: calibrate a real server, then hold the model's prediction against a load test.

For a server of known truth (workers, mean page time): ``surge calibrate`` fits it; then,
for open loads at ``LOADS`` x its true capacity, ``surge loadtest`` measures what it
does and ``surge run`` of the fitted site predicts it (replications averaged, the load
test's clients modelled: ``--time-scale 1 --scale 1``, no give-ups or retries). Both
play the same scenario: pages only, a constant rate for ``LOAD_S`` seconds, then
``DRAIN_S`` without arrivals, so a backlog built at 1.2x is served and counted on both
sides rather than cut off at the end.

The prediction comes with its band (``surge run``'s ``prediction_band``): the model run at both
ends of the fit's 95 % interval of the saturated throughput (``[site.calibration]``, the page
service scaled to ``workers / X_hi`` and ``workers / X_lo``): near the
knee (0.85x) and on an unbounded backlog (1.2x, where the p95 grows with the excess
``lambda - X``), a few percent of capacity moves the p95 by tens of percent, so the band
says how much of a miss the calibration's own uncertainty explains.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from sim.cli import main
from sim.cli.calibrate import phase_lengths_s

__all__ = ["LOADS", "Row", "validate", "measure_load"]

LOADS = (0.85, 1.2)
# Seconds of arrivals per load. Below capacity the p95 of a short load is that of a few busy
# periods: the bimodal stack's 0.85x p95 over 15 s ranged 0.109 to 0.197 s in 4 runs, so it gets
# 40 s; above capacity the backlog's growth dominates and 15 s is enough (0.3 s apart in 2 runs).
LOAD_S = {0.85: 40.0, 1.2: 15.0}
DRAIN_S = 10.0
REPLICATIONS = 10


@dataclass(kw_only=True)
class Row:
    stack: str
    true_workers: int
    true_mean_s: float
    fitted_workers: int = 0
    fitted_mean_s: float = 0.0
    law: str = ""
    backlog: float = 0.0
    overflow: str = ""
    page_cv: float = 0.0  # of the light-load page service
    page_interval_s: tuple = ()  # the fit's 95 % interval of the page mean (from the saturated throughput's)
    submit_law: str = ""
    submit_mean_s: float = 0.0
    submit_interval_s: tuple = ()  # the fit's 95 % interval of the submit's mean
    round_trip_s: float = 0.0  # what the fit took off each page response
    warnings: tuple = ()
    saturated_steps: int = 0  # of the rising steps, the last this many saturated
    step_windows: tuple = ()  # each rising step's (start, end) of sending, time.monotonic() seconds
    loads: dict = field(default_factory=dict)  # factor -> {"predicted_p95_s", "measured_p95_s", ...}

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _scenario(path: Path, rate_per_s: float, load_s: float) -> Path:
    trace = path.with_suffix(".csv")
    trace.write_text(f"t_s,visitors\n0,{rate_per_s * load_s:.3f}\n{load_s:g},0\n{load_s + DRAIN_S / 2:g},0\n")
    path.write_text(f'include = "site.toml"\n[run]\nduration_s = {load_s + DRAIN_S:g}\nbin_s = {load_s / 4:g}\n'
                    f'seed = 5\n[traffic]\ntrace = "{trace.name}"\n'
                    '[visitors]\npages_per_visit = 1\nrequests_per_page = 1\naction_rate = 0\n')
    return path


def _drained(url: str, limit_s: float = 60.0) -> None:
    """Wait (bounded) until the site answers a page fast again: the last load's backlog is gone."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        try:
            urllib.request.urlopen(url + "/", timeout=10).read()
        except OSError:
            pass
        if time.monotonic() - t0 < 0.5:
            time.sleep(1.0)
            return
        time.sleep(0.5)


PING_PATH = "/healthz"  # every stack answers it without app work: the round trip, measured during the light loads


def validate(url: str, folder: Path, *, stack: str, workers: int, mean_s: float, calibrate_s: float = 90.0,
             seed: int = 3, loads: tuple = LOADS, ping_path: str | None = PING_PATH) -> Row:
    """Calibrate the server at ``url``, then predict and measure each of ``loads`` (see the module docstring).

    ``ping_path`` None: calibrate's default round trip (two TCP handshakes, measured before the load)."""
    folder.mkdir(parents=True, exist_ok=True)
    capacity = workers / mean_s
    site = folder / "site.toml"
    args = ["calibrate", "--host", url, "--max-rate", f"{2 * capacity:.6g}", "--duration-s", f"{calibrate_s:g}",
            "--seed", str(seed), *(["--ping-path", ping_path] if ping_path else []), "--out", str(site)]
    code, steps = _calibrate(args, step_s=phase_lengths_s(calibrate_s)[1], timeout_s=4 * calibrate_s + 120)
    assert code == 0, f"calibrate exited {code}"
    app = tomllib.loads(site.read_text())["site"]["app"]
    from sim.config.scenario import read_site_file  # the parsed law, for its mean
    from sim.config.distributions import distribution_from_table

    page = distribution_from_table(read_site_file(str(site))["app"]["page_s"])
    submit = distribution_from_table(read_site_file(str(site))["app"]["submit_s"])
    text = site.read_text()
    light = {m.group(1): m.groups()[1:] for m in re.finditer(
        r"^# (page|submit): \d+ samples, service mean [0-9.]+ ms \(95 %: ([0-9.-]+) to ([0-9.-]+)\), CV ([0-9.]+)",
        text, re.M)}
    row = Row(stack=stack, true_workers=workers, true_mean_s=mean_s, fitted_workers=int(app["workers"]),
              fitted_mean_s=float(page.mean), law=str(app["page_s"].get("dist")), backlog=float(app["queue_limit"]),
              overflow=_overflow_comment(text),
              warnings=tuple(line[len("# WARNING: "):] for line in text.splitlines() if line.startswith("# WARNING")),
              page_cv=float(light["page"][2]), page_interval_s=tuple(float(v) / 1000 for v in light["page"][:2]), submit_law=str(app["submit_s"].get("dist")),
              submit_mean_s=float(submit.mean),
              submit_interval_s=tuple(float(v) / 1000 for v in light["submit"][:2]),
              round_trip_s=float(re.search(r"^# Round trip: ([0-9.]+) ms", text, re.M).group(1)) / 1000,
              saturated_steps=int(re.search(r"over the (\d+) saturated steps", text).group(1)) if "NOT saturated" not in text
              else 0, step_windows=steps)
    for factor in loads:
        row.loads[factor] = measure_load(url, folder, site, rate_per_s=factor * capacity, load_s=LOAD_S[factor],
                                         tag=f"{factor:g}")
    return row


def measure_load(url: str, folder: Path, site: Path, *, rate_per_s: float, load_s: float, tag: str) -> dict:
    """One open load of ``rate_per_s`` for ``load_s`` (then DRAIN_S), measured by ``surge loadtest`` and
    predicted by ``surge run`` of the fitted ``site``, with its prediction band ([site.calibration])."""
    _drained(url)
    scenario = _scenario(folder / f"load-{tag}.toml", rate_per_s, load_s)
    measured, predicted = folder / f"measured-{tag}", folder / f"predicted-{tag}"
    code = main(["loadtest", str(scenario), "--host", url, "--time-scale", "1", "--scale", "1", "--assets", "none",
                 "--out", str(measured)])
    assert code == 0, f"loadtest {tag} exited {code}"
    code = main(["run", str(scenario), "--site", str(site), "--time-scale", "1", "--scale", "1",
                 "--replications", str(REPLICATIONS), "--out", str(predicted)])
    assert code == 0, f"run {tag} exited {code}"
    m = json.loads((measured / "summary.json").read_text())
    p = json.loads((predicted / "summary.json").read_text())
    band = p.get("prediction_band", {})
    return {"rate_per_s": rate_per_s,
            "measured_p95_s": m["page_response_s"]["p95"], "predicted_p95_s": p["page_response_s"]["p95"],
            "measured_errors": m["requests"]["error_fraction"], "predicted_errors": p["requests"]["error_fraction"],
            "measured_requests": m["requests"]["arrived"],
            "band_p95_s": band.get("page_response_s", {}).get("p95"),
            "band_errors": band.get("requests", {}).get("error_fraction")}


def _calibrate(args: list[str], *, step_s: float, timeout_s: float) -> tuple[int, tuple]:
    """Run ``surge calibrate`` in a process of its own, as a user does (in the test's process, whatever
    earlier tests left there would slow the client); its messages are passed on as they come.

    Returns its exit code and each load step's window of sending (the rising steps', then the held
    ones'): a step's line comes when its answers are in, so a step starts when the line before it
    came, and sends for ``step_s`` (calibrate's: ``sim/cli/calibrate.py``)."""
    proc = subprocess.Popen([sys.executable, "-m", "sim", *args], stderr=subprocess.PIPE, text=True, bufsize=1)
    watchdog = threading.Timer(timeout_s, proc.kill)  # bounded: a hung calibration is killed, the test fails
    watchdog.start()
    previous, windows = time.monotonic(), []
    try:
        for line in proc.stderr:
            now = time.monotonic()
            sys.stderr.write(line)
            if line.startswith(("step ", "held step ")):
                windows.append((previous, previous + step_s))
            previous = now
        code = proc.wait(timeout=30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    return code, tuple(windows)


def _overflow_comment(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("#   overflow:"):
            return line[len("#   overflow:"):].split(";")[0].strip()
    return ""
