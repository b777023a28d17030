"""A load test's result: what its drivers measured (:class:`Measured`), the summary built from it in one
place (:func:`summarize`: the figures, the SLO verdicts, the outcome, whether the site held, what it means),
the exit code that summary calls for (:func:`exit_code`), and the files (:func:`write`).

The locust file builds the summary when it runs alone; run by ``surge loadtest``, it hands its
:class:`Measured` over (a file in the parent's temporary folder) and surge builds the summary, with what
only it knows (the demo site's stored signatures, a stop by a signal), and writes ``summary.json`` once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sim.analysis.slo import evaluate, parse_slo
from sim.loadtest.meaning import MEASURED, held, meaning, outcome
from sim.loadtest.options import LoadTestOptions
from sim.loadtest.schedule import LoadPlan
from sim.loadtest.stats import LOADTEST_COLUMNS, LoadRecorder

__all__ = ["Measured", "summarize", "timeseries_rows", "exit_code", "write", "EXIT_BROKEN", "EXIT_ABORTED",
           "EXIT_GENERATOR"]

EXIT_BROKEN, EXIT_ABORTED, EXIT_GENERATOR = 1, 3, 4  # an objective broken or nothing measured; the brake; lag


@dataclass(frozen=True, kw_only=True)
class Measured:
    """The drivers' recorders merged, and what the test's process knows of how it ran."""

    recorder: LoadRecorder
    drivers: int
    complete: bool  # every driver played its whole share of the plan
    ownership: dict | None  # the host's proof of consent (sim.loadtest.ownership), None on loopback
    aborted: str | None  # why the safety brake stopped the test, if it did

    @classmethod
    def merged(cls, parts: dict, complete: dict, *, ownership: dict | None, aborted: str | None) -> "Measured":
        """From each driver's ``LoadRecorder.to_dict()`` and whether it completed, by driver index."""
        recorders = [LoadRecorder.from_dict(d) for _, d in sorted(parts.items())]
        total = recorders[0]
        for part in recorders[1:]:
            total.merge(part)
        return cls(recorder=total, drivers=len(recorders), complete=all(complete.get(i, False) for i in parts),
                   ownership=ownership, aborted=aborted)

    def to_json(self) -> str:
        return json.dumps({"recorder": self.recorder.to_dict(), "drivers": self.drivers, "complete": self.complete,
                           "ownership": self.ownership, "aborted": self.aborted})

    @classmethod
    def from_json(cls, text: str) -> "Measured":
        d = json.loads(text)
        return cls(recorder=LoadRecorder.from_dict(d["recorder"]), drivers=d["drivers"], complete=d["complete"],
                   ownership=d["ownership"], aborted=d["aborted"])


def summarize(measured: Measured, plan: LoadPlan, options: LoadTestOptions, *, demo_site: dict | None = None,
              stopped: str | None = None) -> dict:
    """summary.json's content: the recorder's figures, the SLO verdicts, the outcome, ``held`` and ``meaning``.
    ``stopped``: why surge was stopped (a signal), which makes the figures partial."""
    _, target = plan.target_per_bin()
    summary = measured.recorder.summary(target_visitors=float(target.sum()), plan=plan.describe())
    summary["scenario"] = plan.scenario.name or plan.scenario.path
    summary["drivers"] = measured.drivers
    summary["ownership"] = measured.ownership
    summary["aborted"] = measured.aborted
    # Stopped before the plan's end (Ctrl-C, SIGTERM, the brake): the figures cover part of the plan.
    summary["partial"] = bool(measured.aborted) or not measured.complete or stopped is not None
    verdicts = evaluate(parse_slo(options.slo), summary) if options.slo else []
    summary["slo"] = [{"objective": o.text, "value": v, "met": ok} for o, v, ok in verdicts]
    summary["outcome"] = outcome(summary)
    summary["load_factor"] = summary["plan"].get("load_factor")
    summary["meaning"] = meaning(summary)
    summary["held"] = held(summary)
    if demo_site is not None:
        summary["demo_site"] = demo_site
    if stopped is not None:
        summary["stopped"] = stopped
    return summary


def exit_code(summary: dict) -> int:
    """What the summary calls for, the first that applies: 3 when the brake stopped the test; 1 when it
    measured nothing; 4 when the load generator fell behind (its latencies measure itself); 1 when an
    objective is broken; else 0."""
    if summary.get("aborted"):
        return EXIT_ABORTED
    if summary["outcome"]["status"] != MEASURED:
        return EXIT_BROKEN
    if not summary["generator"]["kept_up"]:
        return EXIT_GENERATOR
    if any(v["met"] is not True for v in summary["slo"]):
        return EXIT_BROKEN
    return 0


def timeseries_rows(measured: Measured, plan: LoadPlan) -> list[list]:
    """timeseries.csv's rows (``LOADTEST_COLUMNS``), a missing figure as an empty cell."""
    _, target = plan.target_per_bin()
    return [[("" if isinstance(x, float) and x != x else x) for x in row]
            for row in measured.recorder.timeseries(target)]


def write(out: str | Path, summary: dict, rows: list[list]) -> Path:
    """summary.json and timeseries.csv in ``out`` (made if need be); the folder."""
    from sim.files import out_dir, write_csv, write_json

    folder = out_dir(out)
    write_json(folder / "summary.json", summary)
    write_csv(folder / "timeseries.csv", LOADTEST_COLUMNS, rows)
    return folder
