"""Making and saving figures: the one place that owns a matplotlib figure (plot functions draw on an ``ax``)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["save_figure", "zoom_panels", "finish_panels", "OVERVIEW_HEIGHT"]

OVERVIEW_HEIGHT = 1.1  # the whole run's panel, against the window's panels' heights


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


def zoom_panels(fig, heights, window):
    """Panels of ``heights`` sharing their time axis (the window's), and below them, when the window is not
    the whole run, a smaller panel for the whole run (else None)."""
    ratios = list(heights) + ([] if window.whole_run else [OVERVIEW_HEIGHT])
    axes = list(fig.subplots(len(ratios), 1, height_ratios=ratios, squeeze=False)[:, 0])
    main = axes[:len(heights)]
    for ax in main[1:]:
        ax.sharex(main[0])
    for ax in main[:-1]:
        ax.tick_params(labelbottom=False)
    return main, (None if window.whole_run else axes[-1])


def finish_panels(main, overview, window, *, what: str, warmup_s: float = 0.0) -> None:
    """Only the lowest window panel keeps its time label; the warm-up (left out of summary.json) is shaded
    grey; the whole run's panel is titled and shows the window (shaded, its legend in the title: a legend box
    would sit on a panel this small's data)."""
    from sim.output.plots import mark_window

    for ax in main[:-1]:
        ax.set_xlabel("")
    if warmup_s > 0 and window.start_s < warmup_s:
        for ax in main:
            ax.axvspan(0, warmup_s / 3600, color="0.5", alpha=0.12, lw=0)
        handles, labels = main[0].get_legend_handles_labels()
        if main[0].get_legend() is not None:
            from matplotlib.patches import Patch

            handles.append(Patch(color="0.5", alpha=0.12, label="warm-up (not in summary.json)"))
            main[0].legend(handles=handles, loc="upper right", fontsize=8)
    if overview is not None:
        mark_window(overview, (window.start_s, window.end_s), label="the window above")
        overview.set_title(f"{what}: the whole run ({window.duration_s / 3600:g} h), the window above shaded",
                           fontsize=9)


