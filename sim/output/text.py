"""Numbers and aligned tables as a person reads them in a terminal."""

from __future__ import annotations

import math
from typing import Sequence

__all__ = ["fmt", "format_table"]


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


def format_table(rows: Sequence[tuple[str, str]], *, title: str = "") -> str:
    width = max(len(label) for label, _ in rows)
    lines = [title, "-" * max(len(title), 20)] if title else []
    lines += [f"{label:<{width}}  {value}" for label, value in rows]
    return "\n".join(lines)
