"""A fitted profile as words: the scenario file ``surge fit`` writes, and its short table.

The scenario covers the trace's whole span with the fitted baseline and shares; the fit's
quality and every parameter's 95 % interval are its comments, so the file says how far
it can be trusted.
"""

from __future__ import annotations

import math

import numpy as np

from sim.analysis.fit import Estimate, FitResult, FittedShare
from sim.config.kernels import ExponentialKernel, Kernel, MixKernel, PowerLawKernel

__all__ = ["fitted_scenario_text", "share_median_delay_s", "fit_table_rows"]


def _g(x: float) -> str:
    return f"{x:.6g}"


def _interval(est: Estimate, unit: str = "") -> str:
    if not est.determined:
        return "not determined by the data"
    return f"95 % interval {_g(est.low)} to {_g(est.high)}{unit}"


def _kernel_toml(kernel: Kernel) -> str:
    if isinstance(kernel, ExponentialKernel):
        return f'{{ kernel = "exponential", half_life_s = {_g(kernel.half_life_s)} }}'
    if isinstance(kernel, PowerLawKernel):
        return f'{{ kernel = "power_law", flat_s = {_g(kernel.flat_s)}, theta = {_g(kernel.theta)} }}'
    assert isinstance(kernel, MixKernel)
    parts, left = [], 1.0
    for i, p in enumerate(kernel.parts):
        inner = _kernel_toml(p.kernel)[2:-2]
        # The last weight is what the rounded others leave, so that they sum to 1 as the format asks.
        w = _g(p.weight) if i < len(kernel.parts) - 1 else repr(round(left, 12))
        left -= float(w)
        parts.append(f"  {{ weight = {w}, {inner} }},")
    return '{ kernel = "mix", parts = [\n' + "\n".join(parts) + "\n] }"


def share_median_delay_s(kernel: Kernel) -> float:
    """When half of a share's visitors have come, after its onset (its half-life for an exponential)."""
    if isinstance(kernel, ExponentialKernel):
        return kernel.half_life_s
    lo, hi = 0.0, 1.0
    while float(kernel.cdf(hi)) < 0.5 and hi < 1e15:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if float(kernel.cdf(mid)) < 0.5 else (lo, mid)
    return hi


def _visitors_within(result: FitResult, share: FittedShare) -> float:
    """The share's visitors that came within the trace (a power law's tail goes on beyond any trace)."""
    return share.visitors.value * float(share.kernel.cdf(result.edges_s[-1] - share.at_s.value))


def _share_lines(j: int, share: FittedShare, in_span: float) -> list[str]:
    lines = [
        "",
        "[[traffic.shares]]",
        f'name = "share {j + 1} (fitted)"',
        f"at_s = {_g(share.at_s.value)}   # onset: {_interval(share.at_s, ' s')}",
        f"visitors = {_g(share.visitors.value)}   # all it brings, tail included: {_interval(share.visitors)}; "
        f"{_g(in_span)} within the trace",
        "reshare_factor = 1   # the fitted kernel is the whole cascade's",
    ]
    for name, est in share.kernel_params.items():
        lines.append(f"# {name} = {_g(est.value)}: {_interval(est)}")
    lines.append(f"decay = {_kernel_toml(share.kernel)}")
    return lines


def fitted_scenario_text(result: FitResult, *, trace_name: str, name: str, include: str | None = None) -> str:
    """The scenario file of ``result``: a run over the trace's span, its baseline and shares."""
    span = float(result.edges_s[-1] - result.edges_s[0])
    width = float(np.median(np.diff(result.edges_s)))
    res = result.residuals
    worst = int(np.argmax(np.abs(res)))
    out = []
    if include:
        out.append(f'include = "{include}"   # visitors and site from there; traffic and run from the fit')
    out += [
        f"# Fitted by `surge fit` to {trace_name}: {len(result.observed)} intervals of {_g(width)} s, "
        f"{_g(float(result.observed.sum()))} visitors.",
        f"# Poisson fit, {result.n_params} parameters: deviance {result.deviance:.1f} on "
        f"{len(result.observed) - result.n_params} degrees of freedom; Pearson dispersion "
        f"{result.pearson_dispersion:.2f} (1 = Poisson noise; above 1 the intervals are widened by it);",
        f"# R^2 of the counts {result.r2:.4f}; largest residual {res[worst]:+.1f} sd at t = "
        f"{_g(float(result.edges_s[worst]))} s (observed {_g(float(result.observed[worst]))}, expected "
        f"{_g(float(result.expected[worst]))}).",
    ]
    out += [f"# warning: {w}" for w in result.warnings]
    out += [
        f'name = "{name}"',
        f'description = "fitted to {trace_name}"',
        "",
        "[run]",
        f"duration_s = {_g(span)}   # the trace's span",
        f"bin_s = {_g(width)}   # the trace's interval",
        "seed = 1",
        "",
        "[traffic]",
        f"baseline_per_day = {_g(result.baseline_per_day.value)}   # {_interval(result.baseline_per_day)}",
    ]
    if result.diurnal_fitted:
        out += [
            f"diurnal_amplitude = {_g(result.diurnal_amplitude.value)}   # {_interval(result.diurnal_amplitude)}",
            f"diurnal_peak_hour = {_g(result.diurnal_peak_hour)}",
        ]
    else:
        out.append("diurnal_amplitude = 0   # intervals of 3 h or more average the daily cycle away: not fitted")
    out.append(f"start_hour = {_g(result.start_hour)}   # the clock hour of the trace's first row")
    for j, share in enumerate(result.shares):
        out += _share_lines(j, share, _visitors_within(result, share))
    return "\n".join(out) + "\n"


def fit_table_rows(result: FitResult, *, peak_rate_per_s: float, peak_at_s: float) -> list[tuple[str, str]]:
    """The short table ``surge fit`` prints: what a campaign reads first."""
    def with_interval(est: Estimate, fmt) -> str:
        if not est.determined:
            return f"{fmt(est.value)} (not determined)"
        return f"{fmt(est.value)} ({fmt(est.low)} to {fmt(est.high)})"

    rows = [("baseline per day", with_interval(result.baseline_per_day, lambda v: f"{v:,.0f}"))]
    if result.diurnal_fitted:
        rows.append(("daily cycle", f"amplitude {result.diurnal_amplitude.value:.2f}, peak at "
                     f"{result.diurnal_peak_hour:.1f} h"))
    rows.append(("peak", f"{peak_rate_per_s:,.2f} visitors/s at t = {_hms(peak_at_s)}"))
    for j, s in enumerate(result.shares):
        half = share_median_delay_s(s.kernel)
        within = _visitors_within(result, s)
        rows.append((f"share {j + 1}", f"onset t = {_hms(s.at_s.value)}, {s.kernel.kind}, half its visitors "
                     f"within {_hms(half)}, {with_interval(s.visitors, lambda v: f'{v:,.0f}')} visitors "
                     f"({within:,.0f} within the trace)"))
    total = sum(s.visitors.value for s in result.shares)
    rows.append(("surge visitors", f"{total:,.0f} (all shares, tails included)"))
    rows.append(("fit", f"R^2 {result.r2:.4f}, deviance {result.deviance:.1f} on "
                 f"{len(result.observed) - result.n_params} dof, dispersion {result.pearson_dispersion:.2f}"))
    return rows


def _hms(t_s: float) -> str:
    if not math.isfinite(t_s):
        return "never"
    t = int(round(t_s))
    d, rem = divmod(t, 86_400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    return (f"{d} d " if d else "") + f"{h}:{m:02d}:{s:02d}"
