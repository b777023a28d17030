"""``surge compare SIM_DIR LOADTEST_DIR --out DIR``: the prediction laid over the measurement.

SIM_DIR is ``surge run SCENARIO --time-scale X --scale Y`` (the model of the load test),
LOADTEST_DIR is ``surge loadtest SCENARIO --time-scale X --scale Y``. Both write
``timeseries.csv`` in the same columns, by bins of simulated time. Besides the
figure and ``compare.csv`` (per bin), ``compare.json`` holds the whole-run figures of
both sides and the spans where they disagree, for a script or a test to read.

When SIM_DIR holds a prediction band (a run of a calibrated site: ``prediction_band`` in its
``summary.json`` and the time series of both ends beside ``timeseries.csv``), the figure shades
it, ``compare.csv`` adds each series at both ends, and the measurement is judged against it:
the whole-run figures, and the spans of bins where a count lies outside the band beyond its noise.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np

from sim.analysis.agreement import Z_LIMIT, disagreements, pair_bins
from sim.analysis.band import ENDS, band_file, measured_against, outside_spans
from sim.stats.figures import figure
from sim.output.summary import pct_text, time_text
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


def _read_band(folder: str, summary: dict, time_scale: float, lt_rows: list[dict], pairs) -> list[tuple] | None:
    """(start, end, fast row, slow row, measured row) per bin of ``pairs``, from the band's time series
    beside SIM_DIR's timeseries.csv; None when the run has no band, a partial one (stopped early: its
    series end short), or its files are not all there."""
    band = summary.get("prediction_band")
    if not isinstance(band, dict) or band.get("partial"):
        return None
    by_end = {}
    for end in ENDS:
        path = Path(folder) / band_file(end)
        if not path.exists():
            return None  # a band stopped before this end: its figures are judged, its bins are not
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                rows = [{k: (float(v) if v not in ("", None) else math.nan) for k, v in row.items()}
                        for row in csv.DictReader(fh)]
            by_end[end] = pair_bins(rows, time_scale, lt_rows).pairs
        except (OSError, ValueError) as err:
            raise ConfigError("SIM_DIR", f"{path}: not a band's time series: {err}") from None
        if len(by_end[end]) != len(pairs):
            raise ConfigError("SIM_DIR", f"{path} has {len(by_end[end])} bins to pair, timeseries.csv "
                              f"{len(pairs)}: not the same run")
    return [(a, b, f[2], s[2], m) for (a, b, _, m), f, s in zip(pairs, by_end["fast"], by_end["slow"])]


def _draw(fig, pairs, band_pairs=None, band_label: str = "") -> None:
    axes = fig.subplots(len(SERIES), 1, sharex=True)
    t = np.array([(a + b) / 2 for a, b, _, _ in pairs]) / 3600
    for ax, (name, get, label) in zip(axes, SERIES):
        if band_pairs is not None:
            ends = np.array([[_value(f, get), _value(s, get)] for _, _, f, s, _ in band_pairs], dtype=float)
            ax.fill_between(t, np.fmin(ends[:, 0], ends[:, 1]), np.fmax(ends[:, 0], ends[:, 1]), color="C0",
                            alpha=0.2, lw=0, label=band_label)
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


def _band_figures(band: dict, lt_summary: dict, band_pairs) -> dict:
    """compare.json's ``prediction_band``: the capacity interval, each whole-run figure against the band,
    and the spans of bins where a count lies outside it beyond noise."""
    spans = [] if band_pairs is None else [
        {"series": name, "start_s": start, "end_s": end, "z_max": z, "measured": "above" if sign > 0 else "below"}
        for name, get, _ in SERIES if not name.endswith("_s")
        for start, end, z, sign in outside_spans(band_pairs, get, VARIANCE.get(name))]
    return {**{k: band.get(k) for k in ("capacity_per_s", "capacity_low_per_s", "capacity_high_per_s", "ends")},
            "figures": measured_against(band, lt_summary), "bins_judged": band_pairs is not None, "outside": spans}


def _band_lines(judged: dict) -> list[str]:
    """What the console says of the band: each whole-run figure, then the spans outside it."""
    lines = [f"prediction band (the model at {_capacity(judged, 'capacity_high_per_s')} and {_capacity(judged, 'capacity_low_per_s')} "
             "pages/s, the calibration's 95 % interval), whole runs, as measured (no allowance for the load "
             "test's own noise):"]
    for got in judged["figures"]:
        f = figure(got["figure"])
        text = time_text if f.unit == "s" else pct_text
        where = "inside" if got["outside"] is None else f"{got['outside'].upper()} the band"
        lines.append(f"  {f.described}: measured {text(got['measured'])}, band {text(got['band'][0])} to "
                     f"{text(got['band'][1])}: {where}")
    if not judged["bins_judged"]:
        lines.append("  (the band's time series are not in SIM_DIR: its bins are not judged)")
        return lines
    labels = {name: label for name, _, label in SERIES}
    lines.append(f"where a measured count falls outside the band beyond noise (|z| > {Z_LIMIT:g} per bin, "
                 "against the band's nearer end):")
    lines += [f"  {labels[s['series']]}: measured {s['measured']} the band from {clock(s['start_s'])} to "
              f"{clock(s['end_s'])} (simulated, {CLOCK_BASIS}; |z| up to {s['z_max']:.1f})"
              for s in judged["outside"]] or ["  nowhere"]
    return lines


def _capacity(band: dict, key: str) -> str:
    value = band.get(key)
    return f"{value:.4g}" if isinstance(value, (int, float)) else "?"


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
    band = sim_summary.get("prediction_band") if isinstance(sim_summary.get("prediction_band"), dict) else None
    band_pairs = _read_band(args.sim_dir, sim_summary, float(sim_summary.get("time_scale", 1.0)), lt_rows, pairs)
    out = out_folder(args.out)  # the input is good: a bad --out is refused in one line
    names = [n for n, _, _ in SERIES]
    band_columns = [] if band_pairs is None else [f"{n}_band_{end}" for n in names for end in ENDS]
    write_csv(out / "compare.csv",
              ["bin_start_s", "bin_end_s"] + [f"{n}_{w}" for n in names for w in ("predicted", "measured")]
              + band_columns,
              ([a, b] + ["" if x is None else f"{get(x):.6g}" for _, get, _ in SERIES for x in (s, m)]
               + ([] if band_pairs is None else
                  ["" if x is None else f"{get(x):.6g}" for _, get, _ in SERIES for x in band_pairs[i][2:4]])
               for i, (a, b, s, m) in enumerate(pairs)))
    band_label = "" if band is None else (f"prediction band ({_capacity(band, 'capacity_high_per_s')} to "
                                          f"{_capacity(band, 'capacity_low_per_s')} pages/s)")
    save_figure(out / "compare.png", lambda f: _draw(f, pairs, band_pairs, band_label), figsize=(10, 11))
    paired = len(pairs) - pairing.only_predicted - pairing.only_measured
    print(format_table(_overall(sim_summary, lt_summary, pairs),
                       title=f"predicted vs measured, whole runs: {paired} bins paired"))
    for count, side in ((pairing.only_predicted, "prediction"), (pairing.only_measured, "measurement")):
        if count:
            print(f"note: the {side} has {count} bins more than the other (kept in compare.csv, one side empty; "
                  "in the totals above)")
    found = _disagreements(pairs)
    figures = _figures(sim_summary, lt_summary, pairs, pairing, found)
    if band is not None:
        figures["prediction_band"] = _band_figures(band, lt_summary, band_pairs)
    write_json(out / "compare.json", figures)
    lines = _disagreement_lines(found)
    print(f"\nwhere they disagree beyond noise (|z| > {Z_LIMIT:g} per bin, counts only; errors against the noise "
          "of attempts minus answers):")
    print("\n".join(f"  {line}" for line in lines) if lines else "  nowhere")
    if band is not None:
        print()
        print("\n".join(_band_lines(figures["prediction_band"])))
    print(f"\nwrote compare.png, compare.csv, compare.json to {out}/")
    return 0
