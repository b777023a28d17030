"""Making and saving figures: the one place that owns a matplotlib figure (plot functions draw on an ``ax``)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["save_figure"]


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
