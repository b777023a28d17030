"""Run the validation matrix N times and print it (true, fitted, predicted, measured), with the run-to-run spread.

    .venv/bin/python -m tests.validation.matrix --runs 3 [--only SUBSTRING] --json out/validation.json
    .venv/bin/python -m tests.validation.matrix --calibrate-only --runs 10 [--busy 1] [--ping-path none]
        [--calibrate-s 300]

Every stack is started on 127.0.0.1 by this script and stopped after its runs. The
figures in docs/validation.md come from here; the tolerances in test_matrix.py are
derived from the spread it prints. ``--calibrate-only`` calibrates and prints the fit
(workers, law, backlog, submit) without the loads; ``--busy N`` runs N busy loops (one
core each) through every calibration, a generator and a server starved of CPU as on a
shared 2-core machine; ``--ping-path none`` calibrates with calibrate's default round
trip (two TCP handshakes, measured before the load) instead of pings during the light loads.
Each row also has the capacity's precision reached (``[site.calibration].precision``) and, with
``--calibrate-only``, the calibration's wall time (``calibrate_wall_s``: light loads, rising steps,
saturated steps held until calibrate's default precision, +-3 %, or the ``--calibrate-s`` cap, the
drains between them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from sim.cli.calibrate import DEFAULT_DURATION_S

from tests.validation.cycle import calibration_cycle
from tests.validation.harness import LOADS, PING_PATH, validate
from tests.validation.stacks import STACKS


def _spread(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.3g}"
    return f"{statistics.mean(values):.3g} (sd {statistics.stdev(values):.2g})"


@contextlib.contextmanager
def _busy(n: int):
    """``n`` processes spinning on a core each (bounded by the block: killed when it ends)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def _calibration_table(results: dict) -> None:
    print("\n| stack | workers true / fitted | page mean ms true / fitted | cycle ms logged (in the worker + "
          "between) | law (page CV) | backlog | submit mean ms (95 %), law | capacity precision (95 %) | "
          "calibration s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        r0 = rows[0]
        backlogs = [r["backlog"] for r in rows]
        print(f"| {name} | {r0['true_workers']} / {', '.join(str(r['fitted_workers']) for r in rows)} | "
              f"{r0['true_mean_s'] * 1000:.1f} / {_spread([r['fitted_mean_s'] * 1000 for r in rows])} | "
              + "; ".join(f"{c['cycle_s'] * 1000:.1f} ({c['in_worker_s'] * 1000:.1f} + {c['between_s'] * 1000:.1f})"
                          if (c := r.get("cycle")) else "-" for r in rows) + " | "
              + ", ".join(f"{r['law']} ({r['page_cv']:.2f})" for r in rows) + " | "
              + ("unbounded" if all(b == float("inf") for b in backlogs) else
                 f"{', '.join(f'{b:g}' for b in backlogs)}: {_spread(backlogs)}") + " | "
              + "; ".join(f"{r['submit_mean_s'] * 1000:.1f} ({r['submit_interval_s'][0] * 1000:.1f} to "
                          f"{r['submit_interval_s'][1] * 1000:.1f}), {r['submit_law']}" for r in rows) + " | "
              + "; ".join(f"+-{r['precision']:.1%}" for r in rows) + " | "
              + "; ".join(f"{r['calibrate_wall_s']:.0f}" if "calibrate_wall_s" in r else "-" for r in rows) + " |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default="")
    ap.add_argument("--calibrate-only", action="store_true")
    ap.add_argument("--busy", type=int, default=0)
    ap.add_argument("--ping-path", default=PING_PATH)
    ap.add_argument("--calibrate-s", type=float, default=DEFAULT_DURATION_S, help="calibrate's --duration-s (the cap)")
    args = ap.parse_args()
    results = {}
    for stack in STACKS:
        if args.only not in stack.name:
            continue
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            with stack.start(Path(tmp)) as url:
                for run in range(args.runs):
                    folder = Path(tmp) / f"run{run}"
                    start = time.monotonic()
                    with _busy(args.busy):
                        row = validate(url, folder, stack=stack.name, workers=stack.workers,
                                       mean_s=stack.mean_s, seed=3 + run, loads=() if args.calibrate_only else LOADS,
                                       ping_path=None if args.ping_path == "none" else args.ping_path,
                                       calibrate_s=args.calibrate_s)
                    rows.append(row.as_dict())
                    rows[-1]["cycle"] = calibration_cycle(row, stack.times_folder(Path(tmp)))
                    site = tomllib.loads((folder / "site.toml").read_text())["site"]
                    rows[-1]["precision"] = site.get("calibration", {}).get("precision", float("nan"))
                    if args.calibrate_only:  # validate then only calibrates
                        rows[-1]["calibrate_wall_s"] = time.monotonic() - start
                    print(json.dumps(rows[-1]), flush=True)
        results[stack.name] = rows
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))
    _calibration_table(results)
    if args.calibrate_only:
        return
    print("\n| stack | workers true / fitted | page mean ms true / fitted | law, backlog | load | p95 s predicted / "
          "measured | errors predicted / measured | p95 band over the fit's capacity interval (per run) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        for factor in LOADS:
            loads = [r["loads"][factor] for r in rows]
            print(f"| {name} | {rows[0]['true_workers']} / {', '.join(str(r['fitted_workers']) for r in rows)} | "
                  f"{rows[0]['true_mean_s'] * 1000:.1f} / {_spread([r['fitted_mean_s'] * 1000 for r in rows])} | "
                  f"{rows[0]['law']}, {rows[0]['backlog']:g} ({rows[0]['overflow']}) | {factor}x | "
                  f"{_spread([x['predicted_p95_s'] for x in loads])} / {_spread([x['measured_p95_s'] for x in loads])} | "
                  f"{_spread([x['predicted_errors'] for x in loads])} / {_spread([x['measured_errors'] for x in loads])} | "
                  + "; ".join(f"{x['band_p95_s'][0]:.3g} to {x['band_p95_s'][1]:.3g}" for x in loads) + " |")
        ratios = [r["loads"][f]["predicted_p95_s"] / r["loads"][f]["measured_p95_s"] for r in rows for f in LOADS]
        print(f"<!-- {name}: predicted/measured p95 ratios {', '.join(f'{x:.3f}' for x in ratios)} -->")


if __name__ == "__main__":
    main()
