"""A fitted profile as words: the scenario file ``surge fit`` writes, and its short table.

The scenario covers the trace's whole span with the fitted baseline and shares; the fit's
quality and every parameter's 95 % interval are its comments, so the file says how far
it can be trusted.
"""

from __future__ import annotations

import math

import numpy as np

from sim.analysis.fit import Estimate, FitResult, FittedShare
from sim.analysis.fit_tail import half_within_s
from sim.config.kernels import ExponentialKernel, Kernel, MixKernel, PowerLawKernel
from sim.output.text import clock

# The fitted scenario's run starts at the trace's first row: times of the surge are counted from it.
_FROM = "from the trace's start"

__all__ = ["fitted_scenario_text", "share_median_delay_s", "fit_table_rows", "uncertain_lines", "Z90"]


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


def _reach_words(share: FittedShare) -> str:
    """Counted, extrapolated and the rest, in words (the rule is ``sim.analysis.fit_tail``'s)."""
    r = share.reach
    if r.tail_determined:
        extra = f"{_g(r.extrapolated)} extrapolated beyond it, to {_hms(r.horizon_s)} after the onset"
    else:
        extra = "none extrapolated beyond it (the trace does not determine the tail)"
    rest = f"; the kernel's {_g(r.beyond)} further on are the model's, not the data's" if r.beyond >= 0.5 else ""
    return f"{_g(r.counted)} counted within the trace, {extra}{rest}"


def _share_lines(j: int, share: FittedShare) -> list[str]:
    lines = [
        "",
        "[[traffic.shares]]",
        f'name = "share {j + 1} (fitted)"',
        f"at_s = {_g(share.at_s.value)}   # onset: {_interval(share.at_s, ' s')}",
        f"visitors = {_g(share.visitors.value)}   # the kernel's whole, tail included: {_interval(share.visitors)}",
        f"# visitors: {_reach_words(share)}",
    ]
    if share.burst is not None:
        lines.append(f"# a burst with no tail: {share.burst.words()}")
    lines.append("reshare_factor = 1   # the fitted kernel is the whole cascade's")
    for name, est in share.kernel_params.items():
        lines.append(f"# {name} = {_g(est.value)}: {_interval(est)}")
    lines.append(f"decay = {_kernel_toml(share.kernel)}")
    return lines


Z90 = 1.644854  # the normal's 95th percentile: a 90 % range is the estimate +- Z90 sd (on its log scale)
_Z95 = 1.959964

# Where each kernel parameter sits in the written ``decay`` table, as ``surge sweep --vary`` names keys.
_DECAY_KEYS = {"exponential": {"half_life_s": "decay.half_life_s"},
               "power_law": {"flat_s": "decay.flat_s", "theta": "decay.theta"},
               "mix": {"flat_s": "decay.parts.0.flat_s", "theta": "decay.parts.0.theta",
                       "half_life_s": "decay.parts.1.half_life_s"}}


def _lognormal(key: str, est: Estimate, source: str) -> list[str]:
    """A positive estimate's 95 % interval (symmetric on its log scale) as the 90 % range of a lognormal."""
    shrink = Z90 / _Z95
    p05 = est.value * (est.low / est.value) ** shrink
    p95 = est.value * (est.high / est.value) ** shrink
    return ["", f'[uncertain."{key}"]', 'dist = "lognormal"', f"p05 = {_g(p05)}", f"p95 = {_g(p95)}",
            f'source = "{source}: 90 % interval"']


def uncertain_lines(result: FitResult, *, trace_name: str) -> list[str]:
    """Each fitted share's parameters that the data determine, as ``[uncertain."traffic.shares.N.KEY"]``
    tables (the scenario format's uncertain inputs): lognormal over the fit's 90 % interval for the
    positive ones, uniform over its interval for the onset. A mix's weight is not written (one part's
    weight varied alone would break the parts' sum), nor is any parameter the data do not determine."""
    source = f"surge fit of {trace_name}"
    out = ["", "# The fit's intervals as uncertain inputs (`surge risk` draws them); the values above are the "
           "central case."]
    for j, share in enumerate(result.shares):
        prefix = f"traffic.shares.{j}"
        at = share.at_s
        out += ["", f'[uncertain."{prefix}.at_s"]', 'dist = "uniform"', f"low = {_g(max(at.low, 0.0))}",
                f"high = {_g(at.high)}",
                f'source = "{source}: the onset interval (counts say in which interval it began, not where)"']
        left_out = []
        if share.visitors.determined:
            out += _lognormal(f"{prefix}.visitors", share.visitors, source)
        else:
            left_out.append("visitors")
        for name, key in _DECAY_KEYS[share.kernel.kind].items():
            est = share.kernel_params[name]
            if est.determined:
                out += _lognormal(f"{prefix}.{key}", est, source)
            else:
                left_out.append(name)
        if left_out:
            out.append(f"# share {j + 1}: no range for {', '.join(left_out)}: not determined by the data")
    return out


def fitted_scenario_text(result: FitResult, *, trace_name: str, name: str, include: str | None = None,
                         ranges: bool = False) -> str:
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
        out += _share_lines(j, share)
    if ranges and result.shares:
        out += uncertain_lines(result, trace_name=trace_name)
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
    rows.append(("peak", f"{peak_rate_per_s:,.2f} visitors/s at {clock(peak_at_s)} {_FROM}"))
    for j, s in enumerate(result.shares):
        r = s.reach
        half = half_within_s(s.kernel, r.horizon_s)
        what = ("a burst with no tail" if s.burst is not None else
                f"{s.kernel.kind}, half its visitors within {_hms(half)}")
        rows.append((f"share {j + 1}", f"onset {clock(s.at_s.value)} {_FROM}, {what}, {r.counted:,.0f} visitors "
                     f"within the trace; the kernel's whole: {with_interval(s.visitors, lambda v: f'{v:,.0f}')}"))
        if s.burst is not None:
            rows.append(("", s.burst.words()))
        if r.extrapolated < 0.5 and r.beyond < 0.5:
            pass  # all within the trace: nothing to say
        elif r.tail_determined:
            rows.append(("", f"{r.extrapolated:,.0f} extrapolated beyond the trace, to {_hms(r.horizon_s)} after "
                             f"the onset" + (f"; {r.beyond:,.0f} further on not counted" if r.beyond >= 0.5 else "")))
        else:
            rows.append(("", f"tail not determined by the trace: none extrapolated ({r.beyond:,.0f} in the kernel "
                             f"beyond the trace not counted)"))
    for b in result.noise:
        rows.append(("noise", f"a burst at t = {_hms(b.at_s)}: {b.words()}; not a share"))
    counted = sum(s.reach.counted for s in result.shares)
    extrapolated = sum(s.reach.extrapolated for s in result.shares)
    rows.append(("surge visitors", f"{counted + extrapolated:,.0f} (all shares: counted within the trace and "
                 f"extrapolated, at most as long again as the trace watched each, where it determines the tail)"))
    rows.append(("  counted", f"{counted:,.0f} within the trace"))
    rows.append(("  extrapolated", f"{extrapolated:,.0f} beyond it"))
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
