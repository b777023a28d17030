"""The load test's own run-to-run spread, and the prediction band, on each stack of the matrix.

    .venv/bin/python -m tests.validation.spread --repeats 5 [--only SUBSTRING] [--calibrate-s 90] --json F

Each stack is started on 127.0.0.1, calibrated once, then loaded ``--repeats`` times at each of
0.85x and 1.2x of its true capacity (``harness.LOADS``, ``harness.LOAD_S`` seconds, then the
drain), the same scenario each time: what moves between the repeats is the load test's own
noise (arrivals, the machine), which is all a prediction band may be widened by. Printed per
stack and load: the measured p95 and error fraction of every repeat, their mean and standard
deviation (the p95's also as a coefficient of variation), the prediction and its band.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from tests.validation.harness import LOAD_S, LOADS, measure_load, validate
from tests.validation.stacks import STACKS


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", default="")
    ap.add_argument("--calibrate-s", type=float, default=90.0)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    results = {}
    for stack in STACKS:
        if args.only not in stack.name:
            continue
        with tempfile.TemporaryDirectory() as tmp, stack.start(Path(tmp)) as url:
            folder = Path(tmp) / "run"
            row = validate(url, folder, stack=stack.name, workers=stack.workers, mean_s=stack.mean_s, loads=(),
                           calibrate_s=args.calibrate_s)
            capacity = stack.workers / stack.mean_s
            by_load = {}
            for factor in LOADS:
                runs = [measure_load(url, folder, folder / "site.toml", rate_per_s=factor * capacity,
                                     load_s=LOAD_S[factor], tag=f"{factor:g}-{k}") for k in range(args.repeats)]
                p95 = [r["measured_p95_s"] for r in runs]
                errors = [r["measured_errors"] for r in runs]
                by_load[factor] = {"runs": runs, "p95_mean_s": statistics.mean(p95), "p95_sd_s": _sd(p95),
                                   "p95_cv": _sd(p95) / statistics.mean(p95), "errors_mean": statistics.mean(errors),
                                   "errors_sd": _sd(errors)}
                print(json.dumps({"stack": stack.name, "factor": factor, **{k: v for k, v in by_load[factor].items()
                                                                             if k != "runs"},
                                  "p95": p95, "errors": errors, "predicted_p95_s": runs[0]["predicted_p95_s"],
                                  "band_p95_s": runs[0]["band_p95_s"], "band_errors": runs[0]["band_errors"]}),
                      flush=True)
            results[stack.name] = {"fit": row.as_dict(), "loads": by_load}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))
    print("\n| stack | load | measured p95 s, each repeat | mean (sd, CV) | errors, each repeat | predicted p95 (band) |")
    print("|---|---|---|---|---|---|")
    for name, result in results.items():
        for factor, x in result["loads"].items():
            runs = x["runs"]
            band = runs[0]["band_p95_s"] or [float("nan")] * 2
            p95 = ", ".join(f"{r['measured_p95_s']:.3f}" for r in runs)
            errors = ", ".join(f"{r['measured_errors']:.3f}" for r in runs)
            print(f"| {name.split(',')[0]} | {factor}x | {p95} | {x['p95_mean_s']:.3f} ({x['p95_sd_s']:.3f}, "
                  f"{x['p95_cv']:.1%}) | {errors} | {runs[0]['predicted_p95_s']:.3f} ({band[0]:.3f} to {band[1]:.3f}) |")


if __name__ == "__main__":
    main()
