"""Writing results: aligned text tables, JSON and CSV files, figures."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Iterable, Mapping, Sequence

__all__ = ["format_table", "fmt", "write_json", "write_csv", "save_figure", "out_dir"]


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


def out_dir(path: str | Path) -> Path:
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _clean(value):
    # JSON has no inf or nan: write them as null, never as invalid JSON.
    if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
        return None
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_json(path: Path, data: Mapping) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_clean(data), indent=2, sort_keys=False) + "\n")
    tmp.replace(path)  # never leave a half-written file behind


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    tmp.replace(path)


def save_figure(path: Path, draw, *, figsize=(10, 4.5)) -> None:
    """Make a figure, let ``draw(fig)`` fill it, save it as PNG and close it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize, layout="constrained")
    try:
        draw(fig)
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
