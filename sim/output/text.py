"""Numbers, times of the surge, costs and aligned tables as a person reads them in a terminal.

Every time of the surge a command prints goes through :func:`clock`: hours and minutes from the
run's start (``1:05``), the basis said once where the times are shown (:data:`CLOCK_BASIS`,
:func:`post_note`), as the verdict in ``summary.json`` counts them.
"""

from __future__ import annotations

import math
from typing import Sequence

__all__ = ["fmt", "format_table", "clock", "from_start", "post_note", "CLOCK_BASIS", "cost_text", "price_text",
           "COST_UNIT"]

CLOCK_BASIS = "h:mm from the run's start"
# A cost is instance-hours added times the price of one, in the price's currency (US$ for the default).
COST_UNIT = "per instance-hour"


def fmt(value) -> str:
    """A number as a person reads it: thousands separated, few decimals."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def clock(t_s: float) -> str:
    """A time of the run as h:mm from its start, to the minute (hours may pass 24; before it, a minus)."""
    minutes = int(round(t_s / 60))
    sign, minutes = ("-", -minutes) if minutes < 0 else ("", minutes)
    return f"{sign}{minutes // 60}:{minutes % 60:02d}"


def from_start(t_s: float) -> str:
    """One time with its basis: ``1:05 from the run's start``."""
    return f"{clock(t_s)} from the run's start"


def post_note(shares) -> str:
    """The basis of the times on a line, and when the first of the scenario's ``shares`` (``traffic.shares``) was
    posted: ``times h:mm from the run's start; the post at 1:00``."""
    first = min((s.at_s for s in shares), default=None)
    return "times " + CLOCK_BASIS + ("" if first is None else f"; the post at {clock(first)}")


def price_text(price_per_instance_hour: float) -> str:
    """A price as money reads: two decimals, more where it has them (0.10, 0.0416)."""
    p = price_per_instance_hour
    return f"{p:.2f}" if round(p, 2) == p else f"{p:.4g}"


def cost_text(cost: float, price_per_instance_hour: float) -> str:
    """``3.58 at 0.10 per instance-hour``: a cost with the price it counts instance-hours at."""
    return f"{cost:.2f} at {price_text(price_per_instance_hour)} {COST_UNIT}"


def format_table(rows: Sequence[tuple[str, str]], *, title: str = "") -> str:
    width = max(len(label) for label, _ in rows)
    lines = [title, "-" * max(len(title), 20)] if title else []
    lines += [f"{label:<{width}}  {value}" for label, value in rows]
    return "\n".join(lines)
