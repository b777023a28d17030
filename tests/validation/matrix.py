"""Run the validation matrix N times and print it (true, fitted, predicted, measured), with the run-to-run spread.

    .venv/bin/python -m tests.validation.matrix --runs 3 [--only SUBSTRING] --json out/validation.json

Every stack is started on 127.0.0.1 by this script and stopped after its runs. The
figures in docs/validation.md come from here; the tolerances in test_matrix.py are
derived from the spread it prints.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from tests.validation.harness import LOADS, validate
from tests.validation.stacks import STACKS


def _spread(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.3g}"
    return f"{statistics.mean(values):.3g} (sd {statistics.stdev(values):.2g})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    results = {}
    for stack in STACKS:
        if args.only not in stack.name:
            continue
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            with stack.start(Path(tmp)) as url:
                for run in range(args.runs):
                    row = validate(url, Path(tmp) / f"run{run}", stack=stack.name, workers=stack.workers,
                                   mean_s=stack.mean_s, seed=3 + run)
                    rows.append(row.as_dict())
                    print(json.dumps(rows[-1]), flush=True)
        results[stack.name] = rows
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))
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
