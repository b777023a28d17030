"""The validation matrix's calibration: real servers of known truth, fitted by ``surge calibrate``.

Every stack (``tests/validation/stacks.py``) is started on 127.0.0.1 by the test and stopped
after it: the demo site; gunicorn sync workers (2, 3, 4) serving the petition app with a
near-constant, a lognormal and a bimodal page time and a real SQLite insert on submit;
waitress threads with keep-alive; nginx with a connection limit (503) in front of gunicorn.
Calibrated with ``--ping-path /healthz`` (the round trip measured during the light loads), for
each: the workers exact, the page mean against the workers' cycle at saturation as the servers
log it (``cycle.py``), the law the truth implies, the overflow
found (503s with the backlog in an interval measured run to run, or nothing refused: an
unbounded backlog), and the submit (``POST /sign``) kind's service against its truth, the
page's law plus a SQLite commit timed by the test itself.

The predictions at 0.85x and 1.2x of capacity are not asserted here: run to run they
moved by more than the issue's bounds (predicted / measured p95 from 0.68 to 1.98 at
0.85x, where a 4 % error in the fitted capacity, the 95 % interval of 90 s of calibration,
moves the p95 by 25-30 %), so no bound both holds every run and means something yet
without a prediction band.
``python -m tests.validation.matrix`` measures them (docs/validation.md).
"""

import math
import sqlite3
import time

import pytest

from tests.validation.cycle import calibration_cycle
from tests.validation.harness import validate
from tests.validation.petition_app import parse_law
from tests.validation.stacks import STACKS

# The page mean is workers / saturated throughput: the worker's whole cycle, its page and what the
# server does between two requests (writing, closing, accepting, parsing, waiting for a core), which
# the sleep of the truth leaves out and which grows with the machine's load (+10 % at most on an idle
# machine on 2026-12-02, +18 % under load on 2026-12-07, +20 % in a CI run: docs/validation.md). So
# the page mean is held against that cycle as the servers themselves log it over the same saturated
# steps (tests/validation/cycle.py): within PAGE_HALF_WIDTHS of the fit's own 95 % half-width, as the
# submit below (twice the half-width: 3.9 standard errors, missed by 1e-4 of runs).
PAGE_HALF_WIDTHS = 2.0
# The submit's truth is the page law's sleep plus a commit, and its fitted mean a light-load one: the
# worker's overheads on top, at most +10 % of the page's, sd 3.2 %, in the 12 calibrations of
# `python -m tests.validation.matrix --runs 2` on 2026-12-02 (docs/validation.md); 15 % allows for
# a loaded machine.
MEAN_REL = 0.15

# The law the truth implies: the demo site's service is exponential; the petition app's is its
# PETITION_PAGE law, the bimodal page cache being none of the parametric ones (the empirical law).
# A lognormal of sigma 0.3 (CV 0.31) and a gamma of the same CV are 0.02 apart in Kolmogorov-Smirnov
# distance, less than the sampling noise of 150 light-load samples (about 0.8 / sqrt(150) = 0.065):
# either is the truth's shape, and the CV is checked against the truth's (0.31) instead.
LAWS = {"exponential": {"exponential"}, "constant": {"constant"}, "lognormal": {"lognormal", "gamma"},
        "bimodal": {"empirical"}}
LOGNORMAL_CV_ABS = 0.1

# The backlog read from the saturated steps (Little's law, then the M/M/c/K limit of that mean
# number waiting): BACKLOG[kind] = (lowest, highest) accepted. Measured run to run with
# `python -m tests.validation.matrix --calibrate-only` (docs/validation.md, "What the calibration
# finds"): the demo site (limit 32) read 28 to 37 in 13 calibrations, mean 32.3, sd 2.6; nginx's
# limit_conn 3 + 8 read 8 or 9 in 5, mean 8.4, sd 0.55. The interval is the mean +- 4 sd (a normal's
# tail beyond 4 sd: 6e-5 of runs), to the whole numbers inside it: 21.8 to 42.8 and 6.2 to 10.6.
BACKLOG = {"demo": (22, 42), "nginx-gunicorn": (7, 10)}

# The submit's fitted mean against its truth, the page law's mean plus an insert and commit timed
# here (0.04 ms with synchronous=NORMAL, 3.2 ms with FULL, an fsync, on this machine): its 95 %
# interval is the central limit theorem's, 1.96 standard errors, and twice that half-width is 3.9
# standard errors, missed by 1e-4 of runs; on top, the worker's own overheads (accept, parse,
# write), which the sleep of the truth leaves out, up to MEAN_REL of it as for the page.
SUBMIT_HALF_WIDTHS = 2.0


def _true_law(stack) -> str:
    return "exponential" if stack.kind == "demo" else parse_law(stack.page).kind


def _commit_s(folder, *, synchronous: str, n: int = 40) -> float:
    """The mean time of an insert and commit into a WAL SQLite file in ``folder``, as the stacks do."""
    db = sqlite3.connect(folder / "commit-timing.sqlite")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("CREATE TABLE t (name TEXT, email TEXT, zip TEXT, at REAL)")
    t0 = time.perf_counter()
    for _ in range(n):
        db.execute("INSERT INTO t VALUES (?, ?, ?, ?)", ("A. Visitor", "visitor@example.org", "10001", time.time()))
        db.commit()
    mean = (time.perf_counter() - t0) / n
    db.close()
    return mean


@pytest.mark.slow
@pytest.mark.parametrize("stack", STACKS, ids=[s.name.split(",")[0] for s in STACKS])
def test_calibration_finds_the_real_server(stack, tmp_path):
    with stack.start(tmp_path) as url:
        row = validate(url, tmp_path / "run", stack=stack.name, workers=stack.workers, mean_s=stack.mean_s,
                       loads=())
    cycle = calibration_cycle(row, stack.times_folder(tmp_path))
    page_half = (row.page_interval_s[1] - row.page_interval_s[0]) / 2
    truth, lognormal_cv = _true_law(stack), 0.0
    if truth == "lognormal":
        lognormal_cv = math.sqrt(math.exp(parse_law(stack.page).params[1] ** 2) - 1)
    if stack.kind in BACKLOG:
        lo, hi = BACKLOG[stack.kind]
        overflow_ok = row.overflow.startswith("503") and lo <= row.backlog <= hi
    else:
        overflow_ok = row.backlog == math.inf and "queues every request" in row.overflow
    # The submit: the demo site commits with synchronous=NORMAL, the petition app with SQLite's default.
    submit_truth_s = stack.mean_s + _commit_s(tmp_path, synchronous="NORMAL" if stack.kind == "demo" else "FULL")
    half = (row.submit_interval_s[1] - row.submit_interval_s[0]) / 2
    checks = {  # every check, so that one run shows all that missed
        "workers": row.fitted_workers == stack.workers,
        "page mean": bool(cycle) and abs(row.fitted_mean_s - cycle["cycle_s"]) <= PAGE_HALF_WIDTHS * page_half,
        "law": row.law in LAWS[truth] and (truth != "lognormal" or abs(row.page_cv - lognormal_cv) <= LOGNORMAL_CV_ABS),
        "overflow": overflow_ok,
        "submit": abs(row.submit_mean_s - submit_truth_s) <= SUBMIT_HALF_WIDTHS * half + MEAN_REL * stack.mean_s,
    }
    assert all(checks.values()), ([k for k, ok in checks.items() if not ok], submit_truth_s, cycle, row.as_dict())
