"""What every export shares: its header's facts, numbers written without exponents, the file's own totals."""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from sim.loadtest.export.journey import Journey
from sim.loadtest.export.stages import StageFit
from sim.loadtest.schedule import LoadPlan

__all__ = ["Export", "num", "header_lines", "host_parts", "DEFAULT_HOST"]

DEFAULT_HOST = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Export:
    """A rendered export: its text, and the expected visitors its own stages (in the tool's units) send."""

    format: str
    text: str
    visitors: float
    stages: int  # the stages, phases or injection steps the file holds
    run_hint: str  # how to run it, with the host given


def num(x: float, sig: int = 6) -> str:
    """``x`` with ``sig`` significant digits in plain decimal notation (no exponent: JMeter's parser has none)."""
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return "0"
    decimals = max(0, sig - 1 - math.floor(math.log10(abs(x))))
    text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def host_parts(host: str) -> tuple[str, str, int]:
    """``http://127.0.0.1:8000`` -> ("http", "127.0.0.1", 8000)."""
    parts = urlsplit(host)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, parts.hostname or "127.0.0.1", port


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def header_lines(plan: LoadPlan, fit: StageFit, journey: Journey, *, tool: str, host: str, visitors: float,
                 stages: str, override: str, notes: tuple[str, ...] = ()) -> list[str]:
    """The header every export carries, as plain lines (each renderer comments them its own way)."""
    sc = plan.scenario
    name = sc.name or sc.path
    source = f" ({sc.path})" if sc.path and sc.path != name else ""
    error = (visitors - fit.expected_visitors) / fit.expected_visitors if fit.expected_visitors else 0.0
    more = (f"then with probability {num(journey.more_pages_p, 4)} after each page another page "
            f"({', '.join(journey.page_paths)} in turn), " if journey.more_pages_p > 0 else "")
    assets = (f"each page sends up to {journey.asset_slots} asset requests ({', '.join(journey.asset_paths)} in "
              f"turn), each with probability {num(journey.asset_p, 4)} (assets: {plan.assets})"
              if journey.asset_slots else f"no asset requests (assets: {plan.assets})")
    lines = [
        f"surge export, {tool}: the arrival-rate profile of scenario {name!r}{source}, as the locust replay plays it.",
        f"time scale {num(plan.time_scale)} (simulated seconds per wall second), scale {num(plan.scale)} "
        f"(of the scenario's visitors): load factor {num(plan.load_factor)} (scale x time scale, the fraction of",
        "the real surge's arrival rate this test plays).",
        f"{num(plan.duration_s)} wall seconds of arrivals ({num(plan.sim_duration_s)} s simulated); expected "
        f"visitors {num(fit.expected_visitors)} (this file's stages: {num(visitors)}, {error:+.2%}); peak rate "
        f"{num(fit.peak_rate_per_s, 4)} visitors/s.",
        f"stages: {stages}, fitted as {len(fit.stages)} straight pieces, each within "
        f"{_pct(fit.rate_tolerance)} of the peak rate (worst {_pct(fit.worst_rate_error)}) and "
        f"{_pct(fit.visitors_tolerance)} of its",
        f"expected visitors (worst {_pct(fit.worst_visitors_error)})"
        + ("" if fit.within_tolerance else f", NOT within them: the {fit.max_stages}-stage cap was reached")
        + ".",
        f"a visitor: {journey.landing_path}, {more}then with probability {num(journey.action_p, 4)} the action page "
        f"{journey.action_path} and the form's POST to {journey.submit_path};",
        f"{assets}; every think time {journey.think_ms} ms (the median {num(journey.think_median_s, 4)} s / "
        f"{num(plan.time_scale)}).",
        *notes,
        f"Traffic goes only to the host you give it: {host} unless you say otherwise ({override}).",
        "Load-test only sites you own or may test.",
    ]
    return lines
