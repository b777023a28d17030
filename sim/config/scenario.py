"""Scenario files: TOML → frozen, keyword-only dataclasses, validated on construction.

Every field is documented, with its unit and default, in ``docs/scenario-format.md``
(a test keeps the two in step). A bad value raises :class:`ConfigError` naming the
file, the dotted key and the value.
"""

from __future__ import annotations

import functools
import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sim.config.checks import LIMIT, at_least, at_most, greater, within
from sim.config.distributions import Constant, Distribution, distribution_from_table
from sim.errors import ConfigError
from sim.config.kernels import ExponentialKernel, Kernel, kernel_from_table
from sim.config import limits
from sim.config.site import SiteConfig
from sim.config.tables import INTERNAL, PARSE, from_table
from sim.config.uncertain import UncertainInput, bind, included_uncertain, point_table, table_key, uncertain_from_table

__all__ = [
    "RunConfig",
    "Share",
    "TrafficConfig",
    "RetryConfig",
    "VisitorsConfig",
    "LoadtestSiteConfig",
    "LoadtestConfig",
    "Scenario",
    "load_scenario",
    "parse_scenario",
    "read_toml",
    "check_uncertain_ends",
    "read_scenario_table",
    "check_run_size",
    "read_site_file",
    "expected_visitors_bound",
    "not_utf8",
]

_DIST = {PARSE: distribution_from_table}


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    duration_s: float = 86_400.0
    warmup_s: float = 0.0
    seed: int = 1
    bin_s: float = 60.0

    def __post_init__(self) -> None:
        greater("duration_s", self.duration_s, 0)
        at_most("duration_s", self.duration_s, limits.MAX_DURATION_S)
        at_least("warmup_s", self.warmup_s, 0)
        if self.warmup_s >= self.duration_s:
            raise ConfigError("warmup_s", f"must be < duration_s ({self.duration_s:g}), got {self.warmup_s!r}")
        at_least("seed", self.seed, 0)
        greater("bin_s", self.bin_s, 0)
        bins = self.duration_s / self.bin_s
        if bins > limits.MAX_BINS:
            raise ConfigError("bin_s", f"must give at most {limits.MAX_BINS} bins over duration_s = "
                              f"{self.duration_s:g} ({LIMIT}), got {self.bin_s!r} ({bins:.6g} bins)")


@dataclass(frozen=True, kw_only=True)
class Share:
    """One post of the link: a celebrity's, a sibling's, another account's.

    Its size is either the audience (``followers x reach x click_through``, the direct
    clicks, times ``reshare_factor``) or, as ``surge fit`` writes it, ``visitors``: all the
    visitors it brings, its reshares included."""

    name: str = ""
    at_s: float
    followers: float | None = None
    reach: float | None = None
    click_through: float | None = None
    visitors: float | None = None
    reshare_factor: float = 1.0
    decay: Kernel = field(metadata={PARSE: kernel_from_table})

    def __post_init__(self) -> None:
        at_least("at_s", self.at_s, 0)
        audience = [k for k in ("followers", "reach", "click_through") if getattr(self, k) is not None]
        if self.visitors is not None:
            if audience:
                raise ConfigError(audience[0], "cannot be given together with visitors: give the audience "
                                  "(followers, reach, click_through) or the visitors")
            at_least("visitors", self.visitors, 0)
            at_most("visitors", self.visitors, limits.MAX_FOLLOWERS)
        else:
            for key in ("followers", "reach", "click_through"):
                if getattr(self, key) is None:
                    raise ConfigError(key, "is required (or give the share's visitors instead of its audience)")
            at_least("followers", self.followers, 0)
            at_most("followers", self.followers, limits.MAX_FOLLOWERS)
            within("reach", self.reach, 0, 1)
            within("click_through", self.click_through, 0, 1)
        at_least("reshare_factor", self.reshare_factor, 1)
        at_most("reshare_factor", self.reshare_factor, limits.MAX_RESHARE_FACTOR)

    @property
    def direct_clicks(self) -> float:
        if self.visitors is not None:
            return self.visitors / self.reshare_factor
        return self.followers * self.reach * self.click_through

    @property
    def branching_ratio(self) -> float:
        """Mean reshared visitors each visitor brings (Hawkes branching ratio)."""
        return 1.0 - 1.0 / self.reshare_factor

    @property
    def expected_visitors(self) -> float:
        """All visitors the share ever brings: direct clicks and the reshare cascade."""
        if self.visitors is not None:
            return self.visitors
        return self.direct_clicks * self.reshare_factor


@dataclass(frozen=True, kw_only=True)
class TrafficConfig:
    baseline_per_day: float | None = None
    constant_per_s: float | None = None
    diurnal_amplitude: float = 0.5
    diurnal_peak_hour: float = 20.0
    hourly_weights: tuple[float, ...] | None = None
    start_hour: float = 0.0
    shares: tuple[Share, ...] = ()
    trace: str | None = None

    def __post_init__(self) -> None:
        given = [k for k in ("baseline_per_day", "constant_per_s", "trace") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ConfigError(given[1], f"cannot be given together with {given[0]}: choose one baseline")
        if self.trace is not None and self.shares:
            raise ConfigError("trace", "replaces the model: remove [[traffic.shares]] or the trace")
        if self.baseline_per_day is not None:
            at_least("baseline_per_day", self.baseline_per_day, 0)
        if self.constant_per_s is not None:
            at_least("constant_per_s", self.constant_per_s, 0)
        within("diurnal_amplitude", self.diurnal_amplitude, 0, 1)
        within("diurnal_peak_hour", self.diurnal_peak_hour, 0, 24)
        within("start_hour", self.start_hour, 0, 24)
        if self.hourly_weights is not None:
            if len(self.hourly_weights) != 24:
                raise ConfigError("hourly_weights", f"must hold 24 weights, got {len(self.hourly_weights)}")
            for i, w in enumerate(self.hourly_weights):
                at_least(f"hourly_weights[{i}]", w, 0)
            if sum(self.hourly_weights) <= 0:
                raise ConfigError("hourly_weights", "must not all be 0")


@dataclass(frozen=True, kw_only=True)
class RetryConfig:
    probability: float
    delay_s: Distribution = field(metadata=_DIST)
    max: int = 3

    def __post_init__(self) -> None:
        within("probability", self.probability, 0, 1)
        at_least("max", self.max, 0)
        at_most("max", self.max, limits.MAX_RETRIES)


@dataclass(frozen=True, kw_only=True)
class VisitorsConfig:
    pages_per_visit: float = 1.0
    requests_per_page: int = 1
    think_s: Distribution = field(default=Constant(value=0.0), metadata=_DIST)
    action_rate: float = 0.0
    patience_s: Distribution = field(default=Constant(value=math.inf), metadata=_DIST)
    retry: RetryConfig | None = None

    def __post_init__(self) -> None:
        at_least("pages_per_visit", self.pages_per_visit, 1)
        at_most("pages_per_visit", self.pages_per_visit, limits.MAX_PAGES_PER_VISIT)
        at_least("requests_per_page", self.requests_per_page, 1)
        at_most("requests_per_page", self.requests_per_page, limits.MAX_REQUESTS_PER_PAGE)
        per_visit = self.pages_per_visit * self.requests_per_page
        if per_visit > limits.MAX_REQUESTS_PER_VISIT:
            raise ConfigError("requests_per_page", f"pages_per_visit x requests_per_page must be <= "
                              f"{limits.MAX_REQUESTS_PER_VISIT} ({LIMIT}), got {self.pages_per_visit:g} x "
                              f"{self.requests_per_page} = {per_visit:g}")
        within("action_rate", self.action_rate, 0, 1)


def _string_table(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise ConfigError("", f"must be a table of strings, got {value!r}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise ConfigError(key, f"must be a string, got {item!r}")
    return tuple(value.items())


def _path(key: str, value: str) -> None:
    if not value.startswith("/"):
        raise ConfigError(key, f"must be a path starting with '/', got {value!r}")


@dataclass(frozen=True, kw_only=True)
class LoadtestSiteConfig:
    """The staging site's paths for a load test (defaults match the bundled demo site)."""

    landing_path: str = "/"
    page_paths: tuple[str, ...] = ("/",)
    asset_paths: tuple[str, ...] = ("/static/site.css", "/static/app.js")
    action_path: str = "/act"
    submit_path: str = "/sign"
    submit_fields: tuple[tuple[str, str], ...] = field(
        default=(("name", "A. Visitor"), ("email", "visitor@example.org"), ("zip", "10001")),
        metadata={PARSE: _string_table},
    )

    def __post_init__(self) -> None:
        for key in ("landing_path", "action_path", "submit_path"):
            _path(key, getattr(self, key))
        for key in ("page_paths", "asset_paths"):
            for i, item in enumerate(getattr(self, key)):
                _path(f"{key}[{i}]", item)
        if not self.page_paths:
            raise ConfigError("page_paths", "must hold at least one path")


@dataclass(frozen=True, kw_only=True)
class LoadtestConfig:
    site: LoadtestSiteConfig = field(default_factory=LoadtestSiteConfig)


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str = ""
    description: str = ""
    run: RunConfig = field(default_factory=RunConfig)
    traffic: TrafficConfig = field(default_factory=TrafficConfig)
    visitors: VisitorsConfig = field(default_factory=VisitorsConfig)
    site: SiteConfig = field(default_factory=SiteConfig)
    loadtest: LoadtestConfig = field(default_factory=LoadtestConfig)
    # [uncertain."dotted.key"] tables: ranges over the plausible surges (sim.config.uncertain); the
    # scenario's own values stay the central case, so nothing but surge risk reads them.
    uncertain: tuple[UncertainInput, ...] = field(default=(), metadata={PARSE: uncertain_from_table})
    # Where the scenario was read from; relative paths inside it (a trace) resolve against its folder.
    path: str = field(default="", compare=False, metadata={INTERNAL: True})

    def __post_init__(self) -> None:
        traffic = self.traffic
        if not traffic.shares and all(getattr(traffic, k) is None for k in ("baseline_per_day", "constant_per_s",
                                                                            "trace")):
            raise ConfigError("traffic", "no traffic: give traffic.constant_per_s, baseline_per_day, shares or a trace")
        autoscale = self.site.autoscale
        if autoscale is not None:
            periods = self.run.duration_s / autoscale.period_s
            if periods > limits.MAX_AUTOSCALE_PERIODS:
                raise ConfigError("site.autoscale.period_s", f"must give at most {limits.MAX_AUTOSCALE_PERIODS} "
                                  f"evaluations over run.duration_s = {self.run.duration_s:g} ({LIMIT}), got "
                                  f"{autoscale.period_s!r} ({periods:.6g} evaluations)")
            for i, entry in enumerate(autoscale.schedule):
                if not entry.at_s < self.run.duration_s:
                    raise ConfigError(f"site.autoscale.schedule[{i}].at_s", f"must be < run.duration_s "
                                      f"({self.run.duration_s:g}), got {entry.at_s!r}")
        db = self.site.db
        if db is not None:
            queries = self.visitors.pages_per_visit * max(db.queries_per_page, db.queries_per_submit)
            if queries > limits.MAX_QUERIES_PER_VISIT:
                raise ConfigError("site.db.queries_per_page", f"visitors.pages_per_visit x the queries of a page "
                                  f"or submit must be <= {limits.MAX_QUERIES_PER_VISIT} ({LIMIT}), got "
                                  f"{queries:g}")


def parse_scenario(table: dict, *, path: str = "") -> Scenario:
    """Build a scenario from an already-parsed TOML table (errors name the key, not the file)."""
    scenario = from_table(Scenario, table)
    if scenario.uncertain:
        scenario = replace(scenario, uncertain=bind(scenario.uncertain, table))
    if path:
        scenario = _with_path(scenario, path)
    return scenario


def _with_path(scenario: Scenario, path: str) -> Scenario:
    traffic = scenario.traffic
    if traffic.trace is not None and not Path(traffic.trace).is_absolute():
        traffic = replace(traffic, trace=str(Path(path).parent / traffic.trace))
    return replace(scenario, traffic=traffic, path=path)


def not_utf8(err: UnicodeDecodeError) -> str:
    """What is wrong with a file that is not UTF-8 text: the first bad byte and its line."""
    data = err.object if isinstance(err.object, (bytes, bytearray)) else b""
    line = data[:err.start].count(b"\n") + 1
    byte = f"byte {data[err.start]:#04x} " if err.start < len(data) else ""
    return f"is not UTF-8 text ({byte}on line {line}): save it as UTF-8"


def read_toml(path: str | Path, *, key: str) -> dict:
    """A TOML file that a key or flag names; a problem is a ConfigError under that key."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as err:
        raise ConfigError(key, f"cannot read {path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(key, f"{path} is not valid TOML: {err}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(key, f"{path} {not_utf8(err)}") from None


def _merge(base: dict, over: dict) -> dict:
    """Tables merge key by key; anything else in ``over`` replaces what ``base`` had."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _include(table: dict, source: str) -> dict:
    """``include = "site.toml"``: that file's tables first, this file's on top (paths relative to this file)."""
    name = table.pop("include")
    if not isinstance(name, str):
        raise ConfigError("include", f"must be a path, got {name!r}")
    path = Path(source).parent / name
    included = read_toml(path, key="include")
    if "include" in included:
        raise ConfigError("include", f"{path} includes another file: one level only")
    if "uncertain" in included:  # a range about a value this file replaces no longer applies
        included = {**included, "uncertain": included_uncertain(included, table)}
        if not included["uncertain"]:
            del included["uncertain"]
    return _merge(included, table)


def read_scenario_table(path: str | Path) -> dict[str, Any]:
    """A scenario file's TOML table with its ``include`` merged in (not yet validated); errors name the file."""
    source = str(path)
    try:
        with open(path, "rb") as fh:
            table: dict[str, Any] = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("", "no such file").at(source) from None
    except IsADirectoryError:
        raise ConfigError("", "is a folder, not a scenario file").at(source) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError("", f"not valid TOML: {err}").at(source) from None
    except UnicodeDecodeError as err:
        raise ConfigError("", not_utf8(err)).at(source) from None
    except OSError as err:
        raise ConfigError("", f"cannot be read: {err.strerror}").at(source) from None
    if "include" in table:
        try:
            table = _include(table, source)
        except ConfigError as err:
            raise (err if err.source else err.at(source)) from None
    return table


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; every error names the file, key and value."""
    source = str(path)
    table = read_scenario_table(path)
    try:
        scenario = parse_scenario(table, path=source)
        if scenario.traffic.trace is not None:
            from sim.config.trace import read_trace

            try:
                read_trace(scenario.traffic.trace)  # fail now, naming the key, not midway through a run
            except ConfigError as err:
                raise err.within("traffic.trace") from None
        check_uncertain_ends(scenario, table)
    except ConfigError as err:
        raise (err if err.source else err.at(source)) from None
    return scenario


def check_uncertain_ends(scenario: Scenario, table: dict) -> None:
    """Each uncertain range's ends make a valid scenario (a reach range past 1 is refused now, naming its table)."""
    for item in scenario.uncertain:
        for end, value in zip(("least", "greatest"), item.ends):
            value = round(value) if item.integer else value
            try:
                from_table(Scenario, point_table(table, {item.key: value}))
            except ConfigError as err:
                raise ConfigError(table_key(item.key), f"its {end} value {value:.6g} makes the scenario invalid: "
                                  f"{err.key}: {err.message}") from None


def expected_visitors_bound(scenario: Scenario) -> float:
    """At least the visitors a run of ``scenario`` expects over ``run.duration_s``, cheaply (no profile built).

    The baseline at its peak rate all along; each share's visitors times the chance that a
    first-generation delay falls within the run (a reshared visitor comes later still; for an
    exponential kernel the cascade's own closed form); a trace's counts within the run."""
    traffic, duration = scenario.traffic, scenario.run.duration_s
    total = 0.0
    if traffic.constant_per_s is not None:
        total += traffic.constant_per_s * duration
    if traffic.baseline_per_day is not None:
        if traffic.hourly_weights is not None:
            top = max(traffic.hourly_weights)
            peak = 24.0 / sum(w / top for w in traffic.hourly_weights)
        else:
            peak = 1.0 + traffic.diurnal_amplitude
        total += traffic.baseline_per_day / 86_400.0 * duration * peak
    if traffic.trace is not None:
        try:
            stamp = Path(traffic.trace).stat().st_mtime_ns
        except OSError:
            stamp = None  # read_trace names the problem
        total += _trace_visitors(traffic.trace, stamp, duration)
    for share in traffic.shares:
        if share.at_s >= duration:
            continue
        kernel = share.decay
        if isinstance(kernel, ExponentialKernel) and share.branching_ratio < 1:
            kernel = ExponentialKernel(half_life_s=kernel.half_life_s / (1.0 - share.branching_ratio))
        total += share.expected_visitors * float(kernel.cdf(duration - share.at_s))
    return total


@functools.lru_cache(maxsize=64)
def _trace_visitors(path: str, stamp: int | None, duration_s: float) -> float:
    """A trace's visitors within the run, read once per file version (a sweep checks every point)."""
    from sim.config.trace import read_trace

    return float(read_trace(path).cumulative(duration_s))


def check_run_size(scenario: Scenario, *, scale: float = 1.0, what: str = "a run") -> None:
    """Refuse, before anything is drawn, a run (or a load test, ``scale`` times the visitors) beyond MAX_VISITORS."""
    visitors = scale * expected_visitors_bound(scenario)
    if visitors > limits.MAX_VISITORS:
        raise ConfigError("traffic", f"expects {visitors:.4g} visitors over run.duration_s = "
                          f"{scenario.run.duration_s:g}, more than the {limits.MAX_VISITORS:g} {what} may simulate "
                          f"({LIMIT}): shorten the run or make the traffic smaller")


def read_site_file(path: str) -> dict:
    """A ``[site]`` file (as ``surge calibrate`` writes): its ``site`` table, checked, errors naming the file.

    Its sections replace the scenario's (``surge run --site``, ``surge sweep --site``); the others stay."""
    from sim.config.site import SiteConfig
    from sim.config.tables import from_table

    table = read_toml(path, key="--site")
    if set(table) != {"site"}:
        raise ConfigError("--site", f"{path} must hold only a [site] section, got {sorted(table)}")
    try:
        from_table(SiteConfig, table["site"])
    except ConfigError as err:
        raise err.within("site").at(path) from None
    return table["site"]
