"""One self-contained HTML page for a run, load-test or sweep folder (``surge report``).

A campaign engineer mails the page round or opens it on a laptop with no network and
reads at a glance whether the site held. So everything is inline (CSS, figures as
``data:image/png`` URIs), nothing is fetched (a Content-Security-Policy forbids it),
no script runs, and every text taken from a file is escaped. ``load_folder`` is the
only function that reads files; the rest take data and return HTML strings.
"""

from __future__ import annotations

import base64
import csv
import json
import math
import os
import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from sim.errors import ConfigError
from sim.stats.figures import COMPLETED, shown_where
from sim.output.summary import band_rows, get, number, pct_text, summary_rows, term_basis, time_text, verdicts, with_ci
from sim.output.text import fmt
from sim.analysis.slo import evaluate, parse_slo
from sim.loadtest.meaning import FAILED, MEASURED, outcome
from sim.output.advise_report import advise_section, verdict_banner
from sim.output.risk_report import risk_section

__all__ = ["Folder", "load_folder", "build_report", "render", "summary_section", "band_section", "slo_section",
           "figures_section", "least_capacity_table", "sweep_table", "generator_banner", "outcome_banner",
           "locust_section", "KIND_LABELS"]

KIND_LABELS = {"run": "simulation run", "loadtest": "load test", "sweep": "sweep", "advise": "advice",
               "risk": "risk over the plausible surges"}
_CAPTIONS = {
    "latency.png": f"Page response time percentiles of the {COMPLETED} over time, above the arrival rate, with "
                   "the limits of the SLO's latency terms",
    "throughput.png": "Page views asked for, served, and requests lost",
    "queue.png": "Backlogs at the app tier, the database and the waiting room",
    "instances.png": "App instances in service (autoscaling)",
    "profile.png": "The traffic profile: visitors per second",
    "p95.png": f"Page response p95 ({COMPLETED}) against capacity, one line per surge size",
    "lost_visitors.png": "Visitors lost against capacity, one line per surge size",
    "lost_actions.png": "Actions lost against capacity, one line per surge size",
    "advise.png": "Each variant's lost actions and page p95 over every attempt, best first; green meets the SLO",
    "risk.png": "The risk curve: the share of the plausible surges that lose more than x, against x",
    "sensitivity.png": "What matters most: each input's partial rank correlation with the actions lost",
}
# A load-test folder's figures (sim/cli/loadtest_figures.py): latency.png there is not the run's.
_LOADTEST_CAPTIONS = {
    "arrivals.png": "Visitors per second: the plan's target, those the load generator sent, and those it dropped",
    "latency.png": f"Response time p50 / p95 / p99 per bin of the {COMPLETED}, from each request's planned send",
    "lag.png": "How late the load generator sent its requests (p99 and max per bin), against the threshold "
               "under which it kept up",
}
_PNG = b"\x89PNG\r\n\x1a\n"
_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2328;
margin:0 auto;max-width:1100px;padding:1.5em}
h1{margin:0 0 .2em;font-size:1.7em}h2{margin-top:1.6em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
.meta{color:#57606a;margin:0}
table{border-collapse:collapse;margin:.5em 0}th,td{padding:.3em .8em;border-bottom:1px solid #d0d7de;text-align:left}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.summary th{font-weight:600;white-space:nowrap}
.banner{padding:.7em 1em;border-radius:6px;margin:1em 0;font-weight:600}
.warn{background:#fff8c5;border:1px solid #d4a72c}.bad{background:#ffebe9;border:1px solid #cf222e;color:#82071e}
.good{background:#dafbe1;border:1px solid #2da44e;color:#116329}.banner code{white-space:nowrap}
.met{color:#116329;background:#dafbe1;font-weight:600}.broken{color:#82071e;background:#ffebe9;font-weight:600}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #d0d7de}
figcaption{color:#57606a;font-size:.92em}
pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:13px;border-radius:6px}
"""
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@dataclass(frozen=True, kw_only=True)
class Folder:
    """What a run, load-test or sweep folder holds, as read from its files."""

    path: Path
    kind: str  # "run", "loadtest" or "sweep"
    written: datetime | None = None
    summary: dict | None = None
    sweep: dict | None = None
    advice: dict | None = None  # advise.json
    risk: dict | None = None  # risk.json
    sweep_columns: tuple[str, ...] = ()
    sweep_rows: tuple[dict, ...] = ()
    figures: tuple[tuple[str, bytes], ...] = ()
    scenario_toml: str | None = None
    locust_html: bool = False  # a load-test folder holds locust's own report, linked (not embedded)


# -- reading ---------------------------------------------------------------------------
def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(str(path), "not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror or exc}") from None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(_read(path))
    except json.JSONDecodeError as exc:
        raise ConfigError(str(path), f"not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "not a JSON object")
    return data


def _read_csv(path: Path) -> tuple[tuple[str, ...], tuple[dict, ...]]:
    reader = csv.DictReader(_read(path).splitlines())
    try:
        rows = tuple(reader)
    except csv.Error as exc:
        raise ConfigError(str(path), f"not CSV: {exc}") from None
    if not reader.fieldnames:
        raise ConfigError(str(path), "empty: no header row")
    return tuple(reader.fieldnames), rows


def _figures(path: Path) -> tuple[tuple[str, bytes], ...]:
    out = []
    for png in sorted(path.glob("*.png")):
        try:
            out.append((png.name, png.read_bytes()))
        except OSError as exc:
            raise ConfigError(str(png), f"cannot read: {exc.strerror or exc}") from None
    return tuple(out)


def _kind(path: Path) -> str:
    if (path / "advise.json").is_file() and not (path / "summary.json").is_file():
        return "advise"
    if (path / "risk.json").is_file() and not (path / "summary.json").is_file():
        return "risk"
    has = {name: (path / name).is_file() for name in ("sweep.json", "sweep.csv", "summary.json", "timeseries.csv")}
    if has["sweep.json"] or has["sweep.csv"]:
        missing = [n for n in ("sweep.json", "sweep.csv") if not has[n]]
        if missing:
            raise ConfigError(str(path / missing[0]), "missing: a sweep folder holds sweep.json and sweep.csv")
        return "sweep"
    if has["summary.json"] and has["timeseries.csv"]:
        return "run"
    if has["summary.json"]:
        raise ConfigError(str(path / "timeseries.csv"), "missing: a run folder holds summary.json and timeseries.csv")
    raise ConfigError(str(path), "neither a run folder (summary.json, timeseries.csv) "
                                 "nor a sweep folder (sweep.json, sweep.csv)")


def load_folder(path: str | Path) -> Folder:
    """Read a run, load-test or sweep folder; a bad folder or file raises ``ConfigError`` naming it."""
    path = Path(path)
    if not path.is_dir():
        raise ConfigError(str(path), "no such folder" if not path.exists() else "not a folder")
    kind = _kind(path)
    main = {"sweep": ("sweep.json", "sweep.csv"), "advise": ("advise.json",), "risk": ("risk.json",)}.get(kind, ("summary.json", "timeseries.csv"))
    written = datetime.fromtimestamp(max((path / n).stat().st_mtime for n in main), tz=timezone.utc)
    toml = _read(path / "scenario.toml") if (path / "scenario.toml").is_file() else None
    common = dict(path=path, written=written, figures=_figures(path), scenario_toml=toml)
    if kind == "advise":
        return Folder(kind="advise", advice=_read_json(path / "advise.json"), **common)
    if kind == "risk":
        return Folder(kind="risk", risk=_read_json(path / "risk.json"), **common)
    if kind == "sweep":
        sweep = _read_json(path / "sweep.json")
        if sweep.get("slo") is not None:  # checked here, where the file can be named
            parse_slo(str(sweep["slo"]), source=f"{path / 'sweep.json'}: slo")
        columns, rows = _read_csv(path / "sweep.csv")
        return Folder(kind="sweep", sweep=sweep, sweep_columns=columns, sweep_rows=rows, **common)
    summary = _read_json(path / "summary.json")
    _read(path / "timeseries.csv")  # a run folder's time series must at least be readable
    kind = "loadtest" if summary.get("kind") == "loadtest" else "run"
    return Folder(kind=kind, summary=summary, locust_html=kind == "loadtest" and (path / "locust.html").is_file(),
                  **common)


def _table(header: list[str], rows: list[list[str]], *, numeric_from: int = 1, cls: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{c}</td>' if i >= numeric_from else f"<td>{c}</td>"
                         for i, c in enumerate(row)) + "</tr>" for row in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _banners(s: dict) -> str:
    out = []
    if s.get("partial"):
        end = number(s.get("end_s"))
        where = f" at {fmt(end)} s of simulated time" if end is not None else ""
        out.append(f'<p class="banner warn">⚠ Partial results: the run stopped early{where}. '
                   "The figures cover only the time before it stopped.</p>")
    if s.get("aborted"):
        out.append(f'<p class="banner bad">⚠ The load test was aborted: {escape(str(s["aborted"]))}</p>')
    reps = number(s.get("replications"))
    if reps is not None and reps > 1:
        out.append(f'<p class="meta">Figures are means over {fmt(reps)} replications, '
                   "± their 95 % confidence half-width.</p>")
    return "".join(out)


def summary_section(s: dict) -> str:
    rows = "".join(f"<tr><th>{escape(label)}</th><td>{escape(text)}</td></tr>" for label, text in summary_rows(s))
    table = f'<table class="summary"><tbody>{rows}</tbody></table>' if rows else "<p>No figures in summary.json.</p>"
    # A load test says what its result implies for the real surge (its load factor, in words).
    means = f"<p><strong>{escape(s['meaning'])}</strong></p>" if isinstance(s.get("meaning"), str) and s["meaning"] else ""
    return f"<section><h2>Summary</h2>{_banners(s)}{means}{table}</section>"


def band_section(s: dict) -> str:
    """The prediction band (summary.json's ``prediction_band``): each figure at the fast end, the point
    and the slow end of the calibration's capacity interval; empty without a band."""
    band, rows = s.get("prediction_band"), band_rows(s)
    if not isinstance(band, dict) or not rows:
        return ""
    high, point, low = (fmt(band.get(k)) for k in ("capacity_high_per_s", "capacity_per_s", "capacity_low_per_s"))
    partial = ('<p class="banner warn">⚠ The band is partial: a run at one end stopped early.</p>'
               if band.get("partial") else "")
    intro = (f"<p>The model run again at both ends of the calibration's 95 % interval of the capacity "
             f"(<code>[site.calibration]</code>), with this run's seed and replications: the page service "
             f"scaled to {high} pages/s (fast end) and {low} pages/s (slow end) around the {point} pages/s "
             f"fitted. The same visitors meet a faster and a slower site: the band is what the calibration "
             f"leaves uncertain, not the model's run-to-run noise.</p>")
    table = _table(["figure", f"fast end ({high}/s)", f"point ({point}/s)", f"slow end ({low}/s)"],
                   [[escape(c) for c in row] for row in rows], cls="band")
    return f"<section><h2>Prediction band</h2>{partial}{intro}{table}</section>"


def _lag_text(x: float) -> str:
    """A lag to read against a threshold of milliseconds: ``1.7 ms``, ``10.4 ms``, ``480 ms``, ``1.25 s``."""
    return f"{x * 1000:.3g} ms" if x < 0.1 else f"{x * 1000:.0f} ms" if x < 1 else f"{x:,.2f} s"


def outcome_banner(s: dict) -> str:
    """A load test that measured nothing of the site (nothing served, visitors dead in the load generator),
    said first, in red; judged from the summary's counts, so a folder written before ``outcome`` is too."""
    result = outcome(s)
    if result["status"] == MEASURED:
        died = s.get("driver_errors") if isinstance(s.get("driver_errors"), dict) else {}
        count, by_error = number(died.get("visitors")), died.get("by_error")
        if not count:
            return ""
        first = f": {max(by_error, key=by_error.get)}" if isinstance(by_error, dict) and by_error else ""
        return (f'<p class="banner warn">⚠ {escape(fmt(count))} visitors died of an error in the load generator, '
                f"counted as lost{escape(first)}.</p>")
    what = "failed" if result["status"] == FAILED else "is invalid"
    return f'<p class="banner bad">✘ The load test {what}: {escape(str(result["reason"]))}.</p>'


def generator_banner(s: dict) -> str:
    """The load generator's verdict, read before any figure: did it keep to its schedule?

    Its lag is the worse p99 of the send lag (actual minus planned send) and the event
    loop's lag, as ``generator_verdict`` judged it; none for a folder without the verdict."""
    g = s.get("generator")
    if not isinstance(g, dict) or not isinstance(g.get("kept_up"), bool):
        return ""
    threshold = number(g.get("threshold_s"))
    lags = [(number(get(g, f"{key}.p99")), label) for key, label in (("lag_s", "lag"),
                                                                     ("loop_lag_s", "event-loop lag"))]
    lags = [(x, label) for x, label in lags if x is not None]
    worst, label = max(lags) if lags else (None, "lag")
    if worst is not None and threshold is not None:
        against = f" ({label} p99 {_lag_text(worst)} {'≤' if worst <= threshold else '>'} {_lag_text(threshold)})"
    elif worst is not None:
        against = f" ({label} p99 {_lag_text(worst)})"
    else:
        against = " (no request was sent: no lag measured)"
    if g["kept_up"]:
        if outcome(s)["status"] != MEASURED:  # kept to a schedule that measured nothing: no green here
            return ""
        return f'<p class="banner good">✔ The load generator kept up{escape(against)}.</p>'
    return (f'<p class="banner bad">✘ The load generator fell behind{escape(against)}: the latencies measure the '
            "generator, not the site: run with more <code>--processes</code>.</p>")


def locust_section(href: str | None) -> str:
    """A link to locust's own HTML report, which sits in the folder (linked, not embedded: it runs scripts)."""
    if href is None:
        return ""
    return ("<section><h2>Locust's own report</h2>"
            f'<p><a href="{escape(href)}">{escape(Path(href).name)}</a>: '
            "locust's charts and per-request statistics (response times from the actual send, in locust's "
            "coarser buckets). A separate file in the load-test folder: mail it along with this page.</p></section>")


def _locust_href(folder: Folder, page_dir: Path | None) -> str | None:
    """locust.html relative to where the page is written (by default into the folder itself)."""
    if not folder.locust_html:
        return None
    if page_dir is None:
        return "locust.html"
    return Path(os.path.relpath(folder.path.resolve() / "locust.html", Path(page_dir).resolve())).as_posix()


def slo_section(verdicts: list[tuple[str, str, bool]]) -> str:
    """The SLO verdict: each objective met (green) or broken (red), with the figure it was judged on."""
    if not verdicts:
        return ("<section><h2>Service-level objectives</h2>"
                '<p>No SLO given (pass e.g. --slo "p95&lt;2s,errors&lt;1%").</p></section>')
    broken = sum(1 for _, _, ok in verdicts if not ok)
    head = (f'<p class="banner good">All {len(verdicts)} objectives met.</p>' if not broken else
            f'<p class="banner bad">{broken} of {len(verdicts)} objectives broken.</p>')
    rows = [[f"<code>{escape(text)}</code>{escape(term_basis(text))}", escape(value),
             '<span class="met">met</span>' if ok else '<span class="broken">BROKEN</span>']
            for text, value, ok in verdicts]
    table = _table(["objective", "measured", "verdict"], rows)
    return f"<section><h2>Service-level objectives</h2>{head}{table}</section>"


def _png_size(data: bytes) -> tuple[int, int] | None:
    if not data.startswith(_PNG) or len(data) < 24 or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def figures_section(figures: tuple[tuple[str, bytes], ...], captions: dict[str, str] | None = None) -> str:
    """Every figure inline as a data URI, with a caption; files that are not PNG images are named, not shown.

    ``captions`` (a load test's) come before the run's, and their figures first."""
    parts = []
    order = list(dict.fromkeys([*(captions or {}), *_CAPTIONS]))
    captions = {**_CAPTIONS, **(captions or {})}
    for name, data in sorted(figures, key=lambda f: (order.index(f[0]) if f[0] in order else len(order), f[0])):
        size = _png_size(data)
        if size is None:
            parts.append(f"<p>{escape(name)} is not a PNG image; left out.</p>")
            continue
        caption = escape(captions.get(name, name.removesuffix(".png").replace("_", " ")))
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        parts.append(f'<figure><img src="{uri}" alt="{caption}" width="{size[0]}" height="{size[1]}">'
                     f"<figcaption>{caption} (<code>{escape(name)}</code>)</figcaption></figure>")
    return f"<section><h2>Figures</h2>{''.join(parts)}</section>" if parts else ""


def least_capacity_table(sweep: dict) -> str:
    """For each surge size swept, the least capacity that meets the sweep's SLO."""
    entries = [e for e in sweep.get("least_capacity") or [] if isinstance(e, dict)]
    slo = sweep.get("slo")
    title = f"<h2>Least capacity that meets <code>{escape(str(slo))}</code></h2>" if slo else "<h2>Least capacity</h2>"
    if not entries:
        return f"<section>{title}<p>None computed{'' if slo else ' (the sweep had no SLO)'}.</p></section>"
    rows = []
    for e in entries:
        surge = e.get("surge") or {}
        where = ", ".join(f"{k} = {fmt(v)}" for k, v in surge.items()) if isinstance(surge, dict) and surge else \
            "the scenario as written"
        least = number(e.get("least"))
        rows.append([escape(where), f"<code>{escape(str(e.get('capacity_key', '?')))}</code>",
                     escape(fmt(least)) if least is not None else '<span class="broken">none in the range</span>'])
    return f"<section>{title}{_table(['surge', 'capacity', 'least'], rows, numeric_from=2)}</section>"


def _cell(row: dict, column: str):
    try:
        return float(row.get(column) or "nan")
    except ValueError:
        return math.nan


def _unflatten(row: dict, skip: set[str]) -> dict:
    nested: dict = {}
    for column in row:
        if column in skip or column is None:
            continue
        *parents, leaf = column.split(".")
        node = nested
        for p in parents:
            if not isinstance(node.get(p), dict):
                node[p] = {}
            node = node[p]
        node[leaf] = _cell(row, column)
    return nested


def sweep_table(sweep: dict, columns: tuple[str, ...], rows: tuple[dict, ...], slo: str | None = None) -> str:
    """Every point of the sweep: its varied values, p95, visitors and actions lost (± CI), and the SLO verdict."""
    vary = [v.get("key") for v in sweep.get("vary") or [] if isinstance(v, dict)]
    keys = [k for k in vary if k in columns]
    shown = [(f.key, f.described, time_text if f.unit == "s" else pct_text) for f in shown_where("report")]
    shown = [s for s in shown if s[0] in columns]
    text = slo or sweep.get("slo")
    objectives = parse_slo(str(text), source="--slo" if slo else "sweep.json: slo") if text else ()
    marked = "complete" in columns  # sweeps stopped midway mark each point complete or not
    header = keys + [label for _, label, _ in shown] + (["SLO"] if objectives else []) + (["point"] if marked else [])
    body = []
    for row in rows:
        values = {c: _cell(row, c) for c in columns}
        cells = [escape(fmt(v) if number(v) is not None else (row.get(k) or "-")) for k, v in
                 ((k, values[k]) for k in keys)]
        cells += [escape(with_ci(values[c], values.get(f"{c}_ci"), f) or "-") for c, _, f in shown]
        if objectives:
            ok = all(met for _, _, met in evaluate(objectives, _unflatten(row, {*keys, "complete"})))
            cells.append('<span class="met">met</span>' if ok else '<span class="broken">broken</span>')
        if marked:
            cells.append("complete" if values["complete"] == 1 else '<span class="broken">stopped midway</span>')
        body.append(cells)
    return f"<section><h2>Sweep points ({len(rows)})</h2>{_table(header, body, numeric_from=0)}</section>"


def _sweep_intro(sweep: dict) -> str:
    items = [f"<li><code>{escape(str(v.get('key')))}</code> over "
             f"{escape(', '.join(fmt(x) for x in v.get('values') or []))}</li>"
             for v in sweep.get("vary") or [] if isinstance(v, dict)]
    slo = sweep.get("slo")
    facts = [f"SLO: <code>{escape(str(slo))}</code>" if slo else "SLO: none given"]
    facts += [f"{escape(fmt(sweep[k]))} {k}" for k in ("points", "replications") if number(sweep.get(k)) is not None]
    if sweep.get("engine"):
        facts.append(f"engine {escape(str(sweep['engine']))}")
    banner = ('<p class="banner warn">⚠ Partial sweep: it stopped before every point (or every replication) '
              "was done.</p>") if sweep.get("partial") else ""
    return (f"<section><h2>What was swept</h2>{banner}<ul>{''.join(items)}</ul>"
            f"<p>{' · '.join(facts)}</p></section>")


# -- the page --------------------------------------------------------------------------
def _toml_name(text: str | None):
    try:
        return tomllib.loads(text).get("name") if text else None
    except tomllib.TOMLDecodeError:
        return None


def _scenario_name(folder: Folder) -> str:
    """A run's summary names its scenario; a sweep holds the scenario's path, so its own name comes first."""
    if folder.kind == "advise":
        names = [(folder.advice or {}).get("name"), (folder.advice or {}).get("scenario")]
    elif folder.kind == "risk":
        names = [(folder.risk or {}).get("name"), (folder.risk or {}).get("scenario")]
    elif folder.kind == "sweep":
        names = [_toml_name(folder.scenario_toml), (folder.sweep or {}).get("scenario")]
    else:
        names = [(folder.summary or {}).get("scenario"), _toml_name(folder.scenario_toml)]
    return str(next((n for n in names if n), None) or folder.path.resolve().name)


def _header(folder: Folder) -> str:
    facts = [KIND_LABELS[folder.kind], f"folder <code>{escape(folder.path.name or str(folder.path))}</code>"]
    if folder.written is not None:
        facts.append(f"files written {folder.written.strftime('%Y-%m-%d %H:%M UTC')}")
    s = folder.summary or {}
    plan = s.get("plan") if isinstance(s.get("plan"), dict) else {}
    if number(plan.get("time_scale")) is not None:
        facts.append(f"played {fmt(plan['time_scale'])}× faster at {fmt(plan.get('scale'))} of its size")
    if number(s.get("seed")) is not None:
        facts.append(f"seed {s['seed']}")
    return f"<header><h1>{escape(_scenario_name(folder))}</h1><p class=\"meta\">{' · '.join(facts)}</p></header>"


def render(folder: Folder, slo: str | None = None, *, page_dir: Path | None = None) -> str:
    """The whole page for a folder already read; ``slo`` (as ``--slo``) overrides the SLO the files hold.

    ``page_dir`` is the folder the page is written to, for links to files beside it
    (locust's report); by default the page is taken to be written into the folder."""
    if folder.kind == "advise":
        body = [advise_section(folder.advice or {}), figures_section(folder.figures)]
    elif folder.kind == "risk":
        body = [risk_section(folder.risk or {}), figures_section(folder.figures)]
    elif folder.kind == "sweep":
        sweep = folder.sweep or {}
        body = [_sweep_intro(sweep), least_capacity_table(sweep), figures_section(folder.figures),
                sweep_table(sweep, folder.sweep_columns, folder.sweep_rows, slo)]
    elif folder.kind == "loadtest":
        s = folder.summary or {}
        body = [outcome_banner(s), generator_banner(s), summary_section(s), slo_section(verdicts(s, slo)),
                figures_section(folder.figures, _LOADTEST_CAPTIONS), locust_section(_locust_href(folder, page_dir))]
    else:
        s = folder.summary or {}
        body = [verdict_banner(s), summary_section(s), band_section(s), slo_section(verdicts(s, slo)),
                figures_section(folder.figures)]
    if folder.scenario_toml is not None:
        body.append(f"<section><h2>Scenario (scenario.toml)</h2><pre>{escape(folder.scenario_toml)}</pre></section>")
    title = escape(f"{_scenario_name(folder)}: {KIND_LABELS[folder.kind]} report")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{_CSS}</style></head>\n<body>{_header(folder)}\n"
            + "\n".join(b for b in body if b)
            + '\n<footer><p class="meta">Made by <code>surge report</code>: one file, no scripts, '
              "nothing fetched.</p></footer></body></html>\n")


def build_report(path: str | Path, slo: str | None = None, *, page_dir: Path | None = None) -> str:
    """The report page for a run, load-test or sweep folder (``page_dir``: where it is written, see ``render``)."""
    return render(load_folder(path), slo, page_dir=page_dir)
