"""Calibrate the nginx -> PHP-FPM -> MariaDB stack against the pool's own measure of its service, and print it.

    .venv/bin/python -m tests.validation.php_truth --runs 3 [--loads] [--json out/php.json]

The stack (``tests.validation.stacks.PHP_STACK``) is started on 127.0.0.1 here and stopped after
its runs. Each run is the matrix's (``harness.validate``: ``surge calibrate --max-rate 2C
--duration-s 90 --ping-path /healthz``; with ``--loads``, the predictions at 0.85x and 1.2x against
``surge loadtest`` too). Beside the law's mean (the SLEEP() in MariaDB) the truth printed is the
time each request held its PHP-FPM child during the run, from the pool's access log: the law plus
the connection, the queries, the commit and PHP's own work, which the fit's page service must find.
The figures in docs/validation.md ("nginx -> PHP-FPM -> MariaDB") come from here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from tests.servers import php_service_ms
from tests.validation.harness import LOADS, validate
from tests.validation.stacks import PHP_STACK

__all__ = ["main"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--loads", action="store_true", help="the predictions at 0.85x and 1.2x too")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    stack, rows = PHP_STACK, []
    with tempfile.TemporaryDirectory() as tmp:
        with stack.start(Path(tmp)) as url:
            for run in range(args.runs):
                before = {kind: len(php_service_ms(Path(tmp), method=m, path=p))
                          for kind, (m, p) in {"page": ("GET", "/"), "submit": ("POST", "/sign")}.items()}
                row = validate(url, Path(tmp) / f"run{run}", stack=stack.name, workers=stack.workers,
                               mean_s=stack.mean_s, seed=3 + run, loads=LOADS if args.loads else ())
                out = row.as_dict()
                # only this run's requests: the log holds every run's
                out["pool_page_mean_s"] = statistics.mean(php_service_ms(Path(tmp))[before["page"]:]) / 1000
                out["pool_submit_mean_s"] = statistics.mean(
                    php_service_ms(Path(tmp), method="POST", path="/sign")[before["submit"]:]) / 1000
                rows.append(out)
                print(json.dumps(out), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=1))
    print(f"\n{stack.name}: the law's mean {stack.mean_s * 1000:.1f} ms")
    print("| run | workers true / fitted | page mean ms: in the child (pool's log) / fitted | submit mean ms: in the "
          "child / fitted (95 %) | law (page CV) | round trip ms |")
    print("|---|---|---|---|---|---|")
    for i, r in enumerate(rows):
        print(f"| {i + 1} | {r['true_workers']} / {r['fitted_workers']} | {r['pool_page_mean_s'] * 1000:.1f} / "
              f"{r['fitted_mean_s'] * 1000:.1f} | {r['pool_submit_mean_s'] * 1000:.1f} / "
              f"{r['submit_mean_s'] * 1000:.1f} ({r['submit_interval_s'][0] * 1000:.1f} to "
              f"{r['submit_interval_s'][1] * 1000:.1f}) | {r['law']} ({r['page_cv']:.2f}) | "
              f"{r['round_trip_s'] * 1000:.2f} |")
    if args.loads:
        print("\n| run | load | p95 s predicted / measured | band over the capacity interval | errors predicted / "
              "measured |")
        print("|---|---|---|---|---|")
        for i, r in enumerate(rows):
            for factor in LOADS:
                x = r["loads"][factor]
                print(f"| {i + 1} | {factor}x | {x['predicted_p95_s']:.3g} / {x['measured_p95_s']:.3g} | "
                      f"{x['band_p95_s'][0]:.3g} to {x['band_p95_s'][1]:.3g} | {x['predicted_errors']:.3g} / "
                      f"{x['measured_errors']:.3g} |")


if __name__ == "__main__":
    main()
