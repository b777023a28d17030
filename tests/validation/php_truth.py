"""Calibrate the nginx -> PHP-FPM -> MariaDB stack against the pool's own measure of its service, and print it.

    .venv/bin/python -m tests.validation.php_truth --runs 3 [--loads] [--json out/php.json]

The stack (``tests.validation.stacks.PHP_STACK``) is started on 127.0.0.1 here and stopped after
its runs. Each run is the matrix's (``harness.validate``: ``surge calibrate --max-rate 2C
--duration-s 90 --ping-path /healthz``; with ``--loads``, the predictions at 0.85x and 1.2x against
``surge loadtest`` too). Beside the law's mean (the SLEEP() in MariaDB) the truth printed is the
time each request held its PHP-FPM child during the run, from the pool's access log: the law plus
the connection, the queries, the commit and PHP's own work; and the children's cycle at saturation
(one entry to the next, ``tests/validation/cycle.py``: the child's time and the pool's between two
requests), during the calibration's saturated steps and the 1.2x load, which the fit's page mean
stands for.
The figures in docs/validation.md ("nginx -> PHP-FPM -> MariaDB") come from here.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path

from tests.servers import php_service_ms
from tests.validation.cycle import calibration_cycle, read_times, saturated_cycle
from tests.validation.harness import LOAD_S, LOADS, validate
from tests.validation.stacks import PHP_STACK

__all__ = ["main"]


def _mean_s(times_ms: list[float]) -> float:
    return statistics.mean(times_ms) / 1000


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
                folder, start_s = Path(tmp) / f"run{run}", time.time()
                wall_less_monotonic_s = time.time() - time.monotonic()  # the files' times onto the logs' clock
                row = validate(url, folder, stack=stack.name, workers=stack.workers, mean_s=stack.mean_s,
                               seed=3 + run, loads=LOADS if args.loads else ())
                out = row.as_dict()
                # the calibration's requests: from the run's start to site.toml (the log holds every run's)
                calibrated_s = (folder / "site.toml").stat().st_mtime
                out["pool_page_mean_s"] = _mean_s(php_service_ms(Path(tmp), since_s=start_s, until_s=calibrated_s))
                out["pool_submit_mean_s"] = _mean_s(php_service_ms(Path(tmp), method="POST", path="/sign",
                                                                   since_s=start_s, until_s=calibrated_s))
                times = read_times(stack.times_folder(Path(tmp)))
                # the children's cycle over the saturated steps, as test_matrix.py holds the fit against it
                out["cycle_s"] = calibration_cycle(row, stack.times_folder(Path(tmp))).get("cycle_s", math.nan)
                for factor, load in out["loads"].items():  # each load test: its scenario written to its summary
                    began_s = (folder / f"load-{factor:g}.toml").stat().st_mtime
                    load["pool_page_mean_s"] = _mean_s(php_service_ms(
                        Path(tmp), since_s=began_s,
                        until_s=(folder / f"measured-{factor:g}" / "summary.json").stat().st_mtime))
                    # above capacity the children are saturated from a quarter of the arrivals to their end
                    began = began_s - wall_less_monotonic_s
                    load["cycle_s"] = (saturated_cycle(times, [(began + 0.25 * LOAD_S[factor], began + LOAD_S[factor])])
                                       ["cycle_s"] if factor > 1 else math.nan)
                rows.append(out)
                print(json.dumps(out), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=1))
    print(f"\n{stack.name}: the law's mean {stack.mean_s * 1000:.1f} ms")
    print("| run | workers true / fitted | page mean ms: in the child (pool's log), cycle at saturation / fitted | "
          "submit mean ms: in the child / fitted (95 %) | law (page CV) | round trip ms |")
    print("|---|---|---|---|---|---|")
    for i, r in enumerate(rows):
        print(f"| {i + 1} | {r['true_workers']} / {r['fitted_workers']} | {r['pool_page_mean_s'] * 1000:.1f}, "
              f"{r['cycle_s'] * 1000:.1f} / {r['fitted_mean_s'] * 1000:.1f} | {r['pool_submit_mean_s'] * 1000:.1f} / "
              f"{r['submit_mean_s'] * 1000:.1f} ({r['submit_interval_s'][0] * 1000:.1f} to "
              f"{r['submit_interval_s'][1] * 1000:.1f}) | {r['law']} ({r['page_cv']:.2f}) | "
              f"{r['round_trip_s'] * 1000:.2f} |")
    if args.loads:
        print("\n| run | load | p95 s predicted / measured | band over the capacity interval | errors predicted / "
              "measured | page mean ms in the child: calibration / this load | children's cycle ms: calibration / "
              "this load |")
        print("|---|---|---|---|---|---|---|")
        for i, r in enumerate(rows):
            for factor in LOADS:
                x = r["loads"][factor]
                print(f"| {i + 1} | {factor}x | {x['predicted_p95_s']:.3g} / {x['measured_p95_s']:.3g} | "
                      f"{x['band_p95_s'][0]:.3g} to {x['band_p95_s'][1]:.3g} | {x['predicted_errors']:.3g} / "
                      f"{x['measured_errors']:.3g} | {r['pool_page_mean_s'] * 1000:.1f} / "
                      f"{x['pool_page_mean_s'] * 1000:.1f} | {r['cycle_s'] * 1000:.1f} / {x['cycle_s'] * 1000:.1f} |")


if __name__ == "__main__":
    main()
