"""``surge compare SIM_DIR LOADTEST_DIR --out DIR``: the prediction laid over the measurement.

SIM_DIR is ``surge run SCENARIO --time-scale X --scale Y`` (the model of the load test),
LOADTEST_DIR is ``surge loadtest SCENARIO --time-scale X --scale Y``. Both write
``timeseries.csv`` in the same columns, by bins of simulated time. Besides the
figure and ``compare.csv`` (per bin), ``compare.json`` holds the whole-run figures of
both sides and the spans where they disagree, for a script or a test to read.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np

from sim.analysis.agreement import Z_LIMIT, disagreements, pair_bins
from sim.errors import ConfigError
from sim.files import write_csv, write_json
from sim.output.text import CLOCK_BASIS, clock, format_table
from sim.cli.figures import save_figure
from sim.cli.outputs import out_folder

__all__ = ["add_parser", "run", "SERIES"]

# name, how to get it from a timeseries row, axis label
SERIES = (
    ("arrivals", lambda r: r["arrivals"], "visitors arriving"),
    ("completed", lambda r: r["completed"], "page views served"),
    ("p50_s", lambda r: r["p50_s"], "p50 (s)"),
    ("p95_s", lambda r: r["p95_s"], "p95 (s)"),
    ("errors", lambda r: r["rejected"] + r["timed_out"], "errors (503, 504)"),
    ("dropped", lambda r: r.get("dropped", 0.0), "dropped arrivals"),
)

# A count's per-bin variance where it is not Poisson-like (sim/analysis/agreement.py). Errors are
# attempts minus answers: their variance is at most that of the two counts added (when the two are
# not negatively correlated), and never below Poisson's.
VARIANCE = {
    "errors": lambda r: max(r["rejected"] + r["timed_out"], r.get("page_views", 0.0) + r["completed"]),
}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="lay a simulated run over a load test of the same scenario, bin by bin",
        description="Overlay the predicted time series (surge run --time-scale X --scale Y) on the measured one "
        "(surge loadtest --time-scale X --scale Y): arrivals, throughput, p50/p95, errors and dropped "
        "arrivals in one figure; print the differences overall and write them per bin to compare.csv.",
    )
    p.add_argument("sim_dir", metavar="SIM_DIR", help="a surge run output folder")
    p.add_argument("loadtest_dir", metavar="LOADTEST_DIR", help="a surge loadtest output folder")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for compare.png and compare.csv")
    p.add_argument("--force", action="store_true",
                   help="compare even when the two folders ran different scenarios (summary.json's scenario)")
    p.set_defaults(func=run)


def _read(folder: str, flag: str) -> tuple[dict, list[dict]]:
    base = Path(folder)
    try:
        summary = json.loads((base / "summary.json").read_text(encoding="utf-8"))
        with open(base / "timeseries.csv", newline="", encoding="utf-8") as fh:
            rows = [{k: (float(v) if v not in ("", None) else math.nan) for k, v in row.items()}
                    for row in csv.DictReader(fh)]
    except (OSError, json.JSONDecodeError, ValueError) as err:  # ValueError: a bad number, or not UTF-8 text
        raise ConfigError(flag, f"{base} is not a surge output folder: {err}") from None
    if not isinstance(summary, dict):
        raise ConfigError(flag, f"{base / 'summary.json'} is not a surge summary (not a JSON object)")
    return summary, rows


def _value(row: dict | None, get) -> float:
    return math.nan if row is None else float(get(row))


def _draw(fig, pairs) -> None:
    axes = fig.subplots(len(SERIES), 1, sharex=True)
    t = np.array([(a + b) / 2 for a, b, _, _ in pairs]) / 3600
    for ax, (name, get, label) in zip(axes, SERIES):
        ax.plot(t, [_value(s, get) for _, _, s, _ in pairs], lw=1.2, label="predicted")
        ax.plot(t, [_value(m, get) for _, _, _, m in pairs], lw=1.2, ls="--", label="measured")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("simulated time (h)")


def _overall(sim_summary: dict, lt_summary: dict, pairs) -> list[tuple[str, str]]:
    """Each series over the whole of each run (every bin of each side), then per paired bin."""
    rows = []
    for name, get, label in SERIES:
        p = np.array([_value(s, get) for _, _, s, _ in pairs], dtype=float)
        m = np.array([_value(x, get) for _, _, _, x in pairs], dtype=float)
        ok = np.isfinite(p) & np.isfinite(m)
        if name.endswith("_s"):
            pv, mv = sim_summary["page_response_s"][name[:3]], lt_summary["page_response_s"][name[:3]]
        else:
            pv, mv = float(np.nansum(p)), float(np.nansum(m))
        diff = "-" if not mv else f"{(pv - mv) / mv:+.1%}"
        mad = float(np.mean(np.abs(p[ok] - m[ok]))) if ok.any() else math.nan
        rows.append((label, f"predicted {pv:.4g}, measured {mv:.4g} ({diff}); mean |difference| per bin {mad:.3g}"))
    return rows


def _disagreements(pairs) -> list[tuple[str, str, tuple]]:
    """(series name, label, (start, end, |z| max, sign)) for each span where a count disagrees."""
    found = []
    for name, get, label in SERIES:
        if name.endswith("_s"):
            continue  # per-bin percentiles carry no interval here
        found += [(name, label, span) for span in disagreements(pairs, get, VARIANCE.get(name))]
    return found


def _disagreement_lines(found) -> list[str]:
    return [f"{label}: measured {'above' if sign > 0 else 'below'} the prediction from {clock(start)} "
            f"to {clock(end)} (simulated, {CLOCK_BASIS}; |z| up to {z:.1f})" for _, label, (start, end, z, sign) in found]


def _figures(sim_summary: dict, lt_summary: dict, pairs, pairing, found) -> dict:
    """compare.json: each count summed over every bin of each side, the page response percentiles of
    each summary, and the spans of disagreement."""
    def total(get, side: int) -> float:
        return float(np.nansum([_value(pair[side], get) for pair in pairs]))

    counts = {name: {"predicted": total(get, 2), "measured": total(get, 3)} for name, get, _ in SERIES
              if not name.endswith("_s")}
    for name, get in (("rejected", lambda r: r["rejected"]), ("timed_out", lambda r: r["timed_out"])):
        counts[name] = {"predicted": total(get, 2), "measured": total(get, 3)}
    response = {q: {"predicted": (sim_summary.get("page_response_s") or {}).get(q),
                    "measured": (lt_summary.get("page_response_s") or {}).get(q)} for q in ("p50", "p95", "p99")}
    return {
        "bins_paired": len(pairs) - pairing.only_predicted - pairing.only_measured,
        "bins_only_predicted": pairing.only_predicted, "bins_only_measured": pairing.only_measured,
        "totals": counts, "page_response_s": response, "z_limit": Z_LIMIT,
        "disagreements": [{"series": name, "start_s": start, "end_s": end, "z_max": z,
                           "measured": "above" if sign > 0 else "below"}
                          for name, _, (start, end, z, sign) in found],
    }


def _same_scenario(sim_summary: dict, lt_summary: dict, args: argparse.Namespace) -> None:
    """Both folders name the scenario they ran (its name, or its path); refuse two different ones unless --force."""
    names = [s.get("scenario") for s in (sim_summary, lt_summary)]
    if not all(isinstance(n, str) and n for n in names):
        return  # an older folder without the name: nothing to compare
    # A scenario without a name is named by its path, which the load test resolves: compare file names.
    a, b = (Path(n).name if n.endswith(".toml") else n for n in names)
    if a != b and not args.force:
        raise ConfigError("LOADTEST_DIR", f"{args.loadtest_dir} is a load test of scenario {names[1]!r}, but "
                          f"{args.sim_dir} is a run of {names[0]!r}: compare the same scenario (or pass --force)")


def run(args: argparse.Namespace) -> int:
    sim_summary, sim_rows = _read(args.sim_dir, "SIM_DIR")
    lt_summary, lt_rows = _read(args.loadtest_dir, "LOADTEST_DIR")
    if lt_summary.get("kind") != "loadtest":
        raise ConfigError("LOADTEST_DIR", f"{args.loadtest_dir} holds no load test (run surge loadtest)")
    _same_scenario(sim_summary, lt_summary, args)
    plan = lt_summary.get("plan", {})
    if not math.isclose(float(sim_summary.get("scale", 1.0)), float(plan.get("scale", 1.0)), rel_tol=1e-9) or \
            not math.isclose(float(sim_summary.get("time_scale", 1.0)), float(plan.get("time_scale", 1.0)),
                             rel_tol=1e-9):
        raise ConfigError("SIM_DIR", f"was run at time scale {sim_summary.get('time_scale', 1)} and scale "
                          f"{sim_summary.get('scale', 1)}, the load test at {plan.get('time_scale')} and "
                          f"{plan.get('scale')}: run surge run with the same --time-scale and --scale")
    try:
        pairing = pair_bins(sim_rows, float(sim_summary.get("time_scale", 1.0)), lt_rows)
    except ValueError as err:
        raise ConfigError("SIM_DIR", str(err)) from None
    pairs = pairing.pairs
    if not pairs:
        raise ConfigError("SIM_DIR", "no bins in either folder's timeseries.csv")
    out = out_folder(args.out)  # the input is good: a bad --out is refused in one line
    names = [n for n, _, _ in SERIES]
    write_csv(out / "compare.csv",
              ["bin_start_s", "bin_end_s"] + [f"{n}_{w}" for n in names for w in ("predicted", "measured")],
              ([a, b] + ["" if x is None else f"{get(x):.6g}" for _, get, _ in SERIES for x in (s, m)]
               for a, b, s, m in pairs))
    save_figure(out / "compare.png", lambda f: _draw(f, pairs), figsize=(10, 11))
    paired = len(pairs) - pairing.only_predicted - pairing.only_measured
    print(format_table(_overall(sim_summary, lt_summary, pairs),
                       title=f"predicted vs measured, whole runs: {paired} bins paired"))
    for count, side in ((pairing.only_predicted, "prediction"), (pairing.only_measured, "measurement")):
        if count:
            print(f"note: the {side} has {count} bins more than the other (kept in compare.csv, one side empty; "
                  "in the totals above)")
    found = _disagreements(pairs)
    write_json(out / "compare.json", _figures(sim_summary, lt_summary, pairs, pairing, found))
    lines = _disagreement_lines(found)
    print(f"\nwhere they disagree beyond noise (|z| > {Z_LIMIT:g} per bin, counts only; errors against the noise "
          "of attempts minus answers):")
    print("\n".join(f"  {line}" for line in lines) if lines else "  nowhere")
    print(f"\nwrote compare.png, compare.csv, compare.json to {out}/")
    return 0
