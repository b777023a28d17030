"""What a load test measured, in the model's units and columns.

Each driver (one per locust worker) records into a :class:`LoadRecorder`; workers
send theirs to the master as a dict, which merges them. Response times are the raw
ones, measured from each request's *intended* start (no coordinated omission), and
kept in log-bucketed histograms (0.5 % relative error), not locust's two-digit
buckets. Bins are of simulated time (``run.bin_s``), so the series lines up with
``surge run``'s. A visitor that died of an error in the load generator itself is a
failed visitor too, and its error is kept by kind, so the summary can say why.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from sim.stats.attempts import QUANTILES, attempt_quantiles
from sim.stats.figures import columns
from sim.stats.histogram import LogHistogram
from sim.stats.summary import quantile_figures, rows_of

__all__ = ["LoadRecorder", "LOADTEST_COLUMNS", "COUNTERS", "LAG_THRESHOLD_S", "generator_verdict"]

COUNTERS = ("arrivals", "dropped", "page_views", "completed", "rejected", "timed_out", "errors",
            "actions_completed", "actions_lost", "requests", "requests_ok", "visitors_served", "visitors_failed",
            "driver_errors")
# The model's columns, then what only a load test has (sim.stats.figures).
LOADTEST_COLUMNS = columns(loadtest=True)
# The generator kept up when 99 % of its requests left within this of their planned time
# (docs/outputs.md: how it was chosen from measurements against nginx).
LAG_THRESHOLD_S = 0.010
_ERROR_KINDS_MAX = 20  # distinct driver errors kept by name; the rest are counted under _OTHER_ERRORS
_OTHER_ERRORS = "other errors"
_ERROR_TEXT_MAX = 200


class LoadRecorder:
    def __init__(self, *, edges_s: np.ndarray, time_scale: float) -> None:
        self.edges_s = np.asarray(edges_s, dtype=float)  # simulated seconds
        self.time_scale = time_scale
        self._edges = self.edges_s.tolist()  # bisect on a list: a tenth of numpy's per-call cost (called per event)
        n = len(self.edges_s) - 1
        self.counts = {name: np.zeros(n) for name in COUNTERS}
        self.bin_response: dict[int, LogHistogram] = {}
        self.response = LogHistogram()  # documents and submits: what visitors wait for
        self.all_response = LogHistogram()  # every request, assets included
        self.sent_response = LogHistogram()  # documents and submits from their actual send: what the site did
        self.lag = LogHistogram()  # every request: actual send minus planned send (the generator's own delay)
        self.bin_lag: dict[int, LogHistogram] = {}
        self.loop_lag = LogHistogram()  # how late the generator's event loop woke a sleeping greenlet
        self.status: dict[str, int] = {}
        self.errors: dict[str, int] = {}  # visitors that died of an error in the driver, by "Type: message"
        # Unix time (time.time()) of the plan's time 0: an event seen outside the test (a stall of
        # the site, a deploy) maps onto the bins. The earliest of the drivers' when merged.
        self.started_unix_s = math.nan

    def _bin(self, t_wall_s: float) -> int:
        i = bisect.bisect_right(self._edges, t_wall_s * self.time_scale) - 1
        return min(max(i, 0), len(self._edges) - 2)

    def count(self, name: str, t_wall_s: float, k: int = 1) -> None:
        self.counts[name][self._bin(t_wall_s)] += k

    def driver_error(self, t_wall_s: float, err: BaseException) -> int:
        """A visitor died of ``err`` in the driver (its visitor is counted failed by the caller); how many
        visitors this kind of error has now killed."""
        self.count("driver_errors", t_wall_s)
        text = f"{type(err).__name__}: {err}"[:_ERROR_TEXT_MAX]
        if text not in self.errors and len(self.errors) >= _ERROR_KINDS_MAX:
            text = _OTHER_ERRORS
        self.errors[text] = self.errors.get(text, 0) + 1
        return self.errors[text]

    def request(self, t_wall_s: float, *, response_s: float, status: str, document: bool,
                lag_s: float = 0.0) -> None:
        """One finished request: its latency from the intended start, how late it was sent, and its fate.

        ``response_s`` counts from the planned send (what a visitor lives through); minus
        ``lag_s`` it is the site's own answer time, from the actual send (as wrk2 reports both)."""
        lag_s = max(lag_s, 0.0)
        b = self._bin(t_wall_s)
        counts = self.counts
        counts["requests"][b] += 1
        self.lag.add(lag_s)
        hist = self.bin_lag.get(b)
        if hist is None:
            hist = self.bin_lag[b] = LogHistogram()
        hist.add(lag_s)
        self.status[status] = self.status.get(status, 0) + 1
        ok = status.startswith("2") or status.startswith("3")
        if ok:
            counts["requests_ok"][b] += 1
            self.all_response.add(response_s)
            if document:
                self.response.add(response_s)
                self.sent_response.add(max(response_s - lag_s, 0.0))
                hist = self.bin_response.get(b)
                if hist is None:
                    hist = self.bin_response[b] = LogHistogram()
                hist.add(response_s)
        elif status == "503":
            counts["rejected"][b] += 1
        elif status in ("504", "timeout"):
            counts["timed_out"][b] += 1
        else:
            counts["errors"][b] += 1
        return ok

    # -- across processes -----------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "edges_s": self.edges_s.tolist(), "time_scale": self.time_scale,
            "counts": {k: v.tolist() for k, v in self.counts.items()},
            "bin_response": {str(b): h.to_dict() for b, h in self.bin_response.items()},
            "response": self.response.to_dict(), "all_response": self.all_response.to_dict(),
            "sent_response": self.sent_response.to_dict(), "lag": self.lag.to_dict(),
            "bin_lag": {str(b): h.to_dict() for b, h in self.bin_lag.items()}, "loop_lag": self.loop_lag.to_dict(),
            "status": dict(self.status), "errors": dict(self.errors), "started_unix_s": self.started_unix_s,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "LoadRecorder":
        rec = cls(edges_s=np.asarray(d["edges_s"]), time_scale=d["time_scale"])
        rec.counts.update({k: np.asarray(v, dtype=float) for k, v in d["counts"].items()})
        rec.bin_response = {int(b): LogHistogram.from_dict(h) for b, h in d["bin_response"].items()}
        rec.response = LogHistogram.from_dict(d["response"])
        rec.all_response = LogHistogram.from_dict(d["all_response"])
        rec.sent_response = LogHistogram.from_dict(d["sent_response"])
        rec.lag = LogHistogram.from_dict(d["lag"])
        rec.bin_lag = {int(b): LogHistogram.from_dict(h) for b, h in d["bin_lag"].items()}
        rec.loop_lag = LogHistogram.from_dict(d["loop_lag"])
        rec.status = dict(d["status"])
        rec.errors = dict(d.get("errors", {}))
        rec.started_unix_s = float(d.get("started_unix_s", math.nan))
        return rec

    def merge(self, other: "LoadRecorder") -> "LoadRecorder":
        for k in self.counts:
            self.counts[k] += other.counts[k]
        for b, h in other.bin_response.items():
            self.bin_response.setdefault(b, LogHistogram()).merge(h)
        for b, h in other.bin_lag.items():
            self.bin_lag.setdefault(b, LogHistogram()).merge(h)
        self.response.merge(other.response)
        self.all_response.merge(other.all_response)
        self.sent_response.merge(other.sent_response)
        self.lag.merge(other.lag)
        self.loop_lag.merge(other.loop_lag)
        for k, v in other.status.items():
            self.status[k] = self.status.get(k, 0) + v
        for k, v in other.errors.items():
            k = k if k in self.errors or len(self.errors) < _ERROR_KINDS_MAX else _OTHER_ERRORS
            self.errors[k] = self.errors.get(k, 0) + v
        starts = [t for t in (self.started_unix_s, other.started_unix_s) if not math.isnan(t)]
        self.started_unix_s = min(starts) if starts else math.nan
        return self

    # -- results ------------------------------------------------------------------------
    def summary(self, *, target_visitors: float, plan: dict) -> dict:
        c = {k: int(v.sum()) for k, v in self.counts.items()}
        arrived_or_dropped = c["arrivals"] + c["dropped"]

        def frac(a, b):
            return a / b if b > 0 else math.nan

        lost = c["visitors_failed"]
        return {
            "kind": "loadtest",
            "plan": plan,
            "started_unix_s": self.started_unix_s,
            "visitors": {
                "target": target_visitors, "arrived": c["arrivals"], "dropped": c["dropped"],
                "dropped_fraction": frac(c["dropped"], arrived_or_dropped),
                "achieved_fraction": frac(arrived_or_dropped, target_visitors),
                "served": c["visitors_served"], "failed": lost,
                "lost": lost + c["dropped"], "lost_fraction": frac(lost + c["dropped"], arrived_or_dropped),
                # of the failed: died of an error in the load generator, not of the site's answer
                "died": c["driver_errors"],
            },
            "driver_errors": {"visitors": c["driver_errors"],
                              "by_error": dict(sorted(self.errors.items(), key=lambda e: (-e[1], e[0])))},
            "page_views": {"attempted": c["page_views"], "completed": c["completed"]},
            "requests": {
                "arrived": c["requests"], "completed": c["requests_ok"], "rejected": c["rejected"],
                "timed_out": c["timed_out"], "errors_other": c["errors"],
                "error_fraction": frac(c["requests"] - c["requests_ok"], c["requests"]),
                "by_status": dict(sorted(self.status.items())),
            },
            "response_s": quantile_figures(self.all_response),
            "page_response_s": quantile_figures(self.response),
            # every page view and submit, a failed one as never answered (the SLO's p95)
            "page_attempt_s": attempt_quantiles(
                self.response, attempts=c["page_views"],
                answered=c["completed"] + c["actions_completed"]),
            "page_response_from_send_s": quantile_figures(self.sent_response),
            "generator": generator_verdict(self.lag, self.loop_lag),
            "actions": {
                "completed": c["actions_completed"], "lost": c["actions_lost"],
                "attempted": c["actions_completed"] + c["actions_lost"],
                "lost_fraction": frac(c["actions_lost"], c["actions_completed"] + c["actions_lost"]),
            },
        }

    def timeseries(self, target: np.ndarray) -> list[list]:
        """One row per bin in :data:`LOADTEST_COLUMNS`; the model's columns a load test cannot see are nan."""
        n = len(self.edges_s) - 1
        nan = math.nan

        def per_bin(hists: dict, fn) -> np.ndarray:
            return np.array([fn(hists[i]) if i in hists else nan for i in range(n)])

        values = {name: self.counts[name] for name in ("arrivals", "page_views", "completed", "rejected",
                                                        "timed_out", "actions_completed", "actions_lost",
                                                        "dropped", "errors", "requests")}
        values |= {"bin_start_s": self.edges_s[:-1], "bin_end_s": self.edges_s[1:],
                   # its visitors neither give up nor retry (as surge run --time-scale models them)
                   "abandoned": np.zeros(n), "retries": np.zeros(n),
                   "target_arrivals": np.array([float(target[i]) if i < len(target) else nan for i in range(n)]),
                   "lag_p99_s": per_bin(self.bin_lag, lambda h: h.quantile(0.99)),
                   "lag_max_s": per_bin(self.bin_lag, lambda h: h.max)}
        for q in ("p50", "p95", "p99"):
            values[f"{q}_s"] = per_bin(self.bin_response, lambda h, q=q: h.quantile(QUANTILES[q]))
        return rows_of(values, n, LOADTEST_COLUMNS)


def generator_verdict(lag: LogHistogram, loop_lag: LogHistogram, *, threshold_s: float = LAG_THRESHOLD_S) -> dict:
    """Did the load generator keep to its schedule? ``kept_up`` when the p99 of both its send lag
    (actual minus planned send, per request) and its event loop's lag is within the threshold.

    A generator that falls behind sends late and reads answers late, and latency measured
    from the planned send charges that delay to the site: then it says little about the site."""

    def figures(h: LogHistogram) -> dict:
        empty = h.count == 0
        return {"p50": math.nan if empty else h.quantile(0.5), "p99": math.nan if empty else h.quantile(0.99),
                "max": math.nan if empty else h.max, "mean": math.nan if empty else h.mean}

    send, loop = figures(lag), figures(loop_lag)
    worst = max((x for x in (send["p99"], loop["p99"]) if not math.isnan(x)), default=0.0)
    return {"kept_up": worst <= threshold_s, "lag_s": send, "loop_lag_s": loop, "threshold_s": threshold_s,
            "requests": lag.count}
