"""The ``[site]`` file ``surge calibrate`` writes: the fit as TOML, its reasoning and quality in comments."""

from __future__ import annotations

import math

from sim.analysis.calibrate import SiteFit

__all__ = ["site_toml", "precision_line"]


def _workers_reason(fit: SiteFit) -> str:
    check = f"throughput x mean page service at light load = {fit.workers_raw:.2f}"
    if fit.concurrency is None:
        return check
    c = fit.concurrency
    return f"requests wait once {c.workers} others are in the site (hinge over {c.samples} responses); {check}"


def precision_line(fit: SiteFit) -> str:
    """How precisely the capacity is known, in words: the reached half-width, the target, the batches."""
    c = fit.capacity
    reached = f"+-{fit.precision:.1%} (95 %)"
    target = "" if fit.precision_target is None else (
        f", target +-{fit.precision_target:.1%} {'reached' if fit.precision <= fit.precision_target else 'NOT reached'}")
    if c is None:
        return reached + target
    return (f"{reached}{target}; batch means of {c.batches} batches of {c.batch_s:.2f} s over {c.steps} saturated "
            f"steps, lag-1 autocorrelation {c.lag1:.2f}")


def _calibration_table(fit: SiteFit) -> list[str]:
    """``[site.calibration]``: the capacity and its interval as data, for a prediction band."""
    lo, hi = fit.throughput_interval_per_s
    if fit.saturated_at_per_s is None or not lo > 0:
        why = "the site never saturated" if fit.saturated_at_per_s is None else "its 95 % interval reaches 0"
        return [f"# No [site.calibration]: {why}, so no capacity interval to predict a band from."]
    return ["[site.calibration]",
            f"capacity_per_s = {fit.saturated_throughput_per_s:.6g}  # pages answered per second at saturation",
            f"capacity_low_per_s = {lo:.6g}  # 95 % interval",
            f"capacity_high_per_s = {hi:.6g}",
            f"precision = {fit.precision:.4g}  # the interval's half-width over capacity_per_s",
            *([f"precision_target = {fit.precision_target:.4g}  # calibrate --precision"]
              if fit.precision_target is not None else []),
            f"round_trip_s = {fit.services['page'].round_trip_s:.6g}  # taken off each light-load page response"]


def site_toml(fit: SiteFit, *, host: str, when: str) -> str:
    """A ``[site]`` section a scenario can include, with the fit's quality in comments."""
    first = next(iter(fit.services.values()))
    lines = [f"# Written by `surge calibrate` against {host} on {when}.",
             f"# Round trip: {first.round_trip_s * 1000:.3f} ms, from {first.round_trip_source}.",
             "# Service times: light-load responses less the round trip; the law by goodness of fit; the page's",
             "# mean is then set from the saturated throughput (below), which counts the worker's own overheads too."]
    for s in fit.services.values():
        lo, hi = s.mean_interval_s
        lines.append(f"# {s.kind}: {s.samples} samples, service mean {s.mean_s * 1000:.2f} ms "
                     f"(95 %: {lo * 1000:.2f} to {hi * 1000:.2f}), CV {s.cv:.2f} -> {s.law} ({s.quality()})")
    xlo, xhi = fit.throughput_interval_per_s
    wlo, whi = fit.workers_raw_interval
    where = (f"Saturation from {fit.saturated_at_per_s:g} requests/s: {fit.saturated_throughput_per_s:.1f} answered/s"
             f" (95 %: {xlo:.1f} to {xhi:.1f}) over the {fit.saturated_steps} saturated steps;"
             if fit.saturated_at_per_s is not None else
             f"NOT saturated: best {fit.saturated_throughput_per_s:.1f} answered/s (95 %: {xlo:.1f} to {xhi:.1f});")
    lines += [
        f"# {where}",
        f"#   workers = {fit.workers}: {_workers_reason(fit)} (95 %: {wlo:.2f} to {whi:.2f}),",
        f"#   and the page service under load = workers / throughput = {fit.services['page'].mean_s * 1000:.2f} ms;",
        f"#   capacity known to {precision_line(fit)};",
    ]
    if fit.queue_limit == math.inf:
        lines.append("#   overflow: nothing refused at saturation (at most 1 %): the site queues every request "
                     "-> backlog unbounded" if fit.overflow == "none" else
                     "#   no saturation seen: no backlog limit could be read")
    else:
        lines += [f"#   overflow: {fit.overflow}; mean number waiting at saturation (Little: throughput x mean wait) "
                  f"{fit.queue_raw:.1f} (steps: {fit.queue_raw_range[0]:.1f} to {fit.queue_raw_range[1]:.1f})",
                  f"#   -> backlog limit {fit.queue_limit}, the M/M/c/K limit with that mean number waiting"]
    lines += [f"# WARNING: {w}" for w in fit.warnings]
    lines += [
        "[site.app]",
        "instances = 1",
        f"workers = {fit.workers}",
        f"queue_limit = {'inf' if fit.queue_limit == math.inf else fit.queue_limit}",
        *(['overflow = "drop"  # the kernel drops SYNs when the backlog is full'] if fit.overflow == "dropped SYNs"
          else []),
        f"page_s = {fit.services['page'].toml()}",
    ]
    if "asset" in fit.services:
        lines.append(f"asset_s = {fit.services['asset'].toml()}")
    if "submit" in fit.services:
        lines.append(f"submit_s = {fit.services['submit'].toml()}")
    lines += [
        "# The services above are whole responses less the round trip: the site's own database work is in",
        "# them. A scenario's [site.db] would add it a second time, so this file replaces it with none",
        "# (the database pool's own queueing is then not modelled apart from the workers').",
        "[site.db]",
        "connections = 1",
        "query_s = 0",
        "queries_per_page = 0",
        "queries_per_submit = 0",
        *_calibration_table(fit),
    ]
    return "\n".join(lines) + "\n"
