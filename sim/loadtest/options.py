"""The load test's options, declared once: each option's flag, label, unit, help and default, and the
typed, frozen :class:`LoadTestOptions` that ``surge loadtest`` hands to the locust file.

``surge loadtest`` builds the options from its flags and passes them on the locust file's command line
(:meth:`LoadTestOptions.to_argv`); the locust file, run by surge or alone (``locust -f ...``, its web UI,
master and workers), declares the same flags from :data:`OPTIONS` and reads them back with
:meth:`LoadTestOptions.from_namespace`. A default, a label or a check written here is the same on
every route.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from sim.analysis.slo import parse_slo
from sim.config.checks import at_most
from sim.config.limits import MAX_CONCURRENT_VISITORS
from sim.errors import ConfigError
from sim.loadtest.schedule import ASSET_MODES

__all__ = ["Option", "OPTIONS", "LoadTestOptions", "PLAN_FIELDS", "HANDOFF_FLAG", "add_locust_arguments"]


@dataclass(frozen=True, kw_only=True)
class Option:
    """One option: ``name`` is the field of :class:`LoadTestOptions` and the key of locust's parsed options."""

    name: str
    flag: str  # the locust file's flag
    label: str  # what the web UI shows (the unit in it)
    help: str  # --help's text (after the flag), and the web UI's help text
    kind: type = float  # the value's type
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    cli_flag: str = ""  # surge loadtest's flag, when it is not ``flag``
    unset: object = None  # the locust flag's value for "not given" (None itself in the options object)
    hint: str = ""  # what the web UI adds to the label: an example, or what a special value means

    @property
    def web_label(self) -> str:
        return f"{self.label} \u2014 {self.hint}" if self.hint else self.label

    @property
    def surge_flag(self) -> str:
        return self.cli_flag or self.flag


OPTIONS: tuple[Option, ...] = (  # in this order in the web UI and in --help
    Option(name="scenario", flag="--scenario", kind=str, label="Scenario file (TOML)", metavar="FILE",
           help="surge scenario file (TOML)"),
    Option(name="time_scale", flag="--time-scale", label="Time scale (simulated s per wall s)", metavar="X",
           hint="144 = 24 h in 10 min", help="simulated seconds per wall second (144: 24 h in 10 min)"),
    Option(name="scale", flag="--scale", label="Scale (fraction of the scenario's visitors)", metavar="F",
           hint="the test plays scale x time scale of the real arrival rate",
           help="fraction of the scenario's visitors to send; the test plays scale x time-scale of the real arrival "
           "rate"),
    Option(name="duration_s", flag="--duration-s", label="Duration of arrivals (wall s)", metavar="S", unset=0.0,
           hint="0 = the whole scenario at the time scale",
           help="wall seconds of arrivals (0: the whole scenario at the time scale)"),
    Option(name="slo", flag="--slo", kind=str, label="Service-level objectives", metavar="OBJECTIVES",
           hint="e.g. p95<2s,errors<1%,dropped<1%", help='objectives, e.g. "p95<2s,errors<1%,dropped<1%"'),
    Option(name="out", flag="--out", kind=str, label="Output folder", metavar="DIR",
           hint="summary.json and timeseries.csv, written as each test stops",
           help="folder for summary.json and timeseries.csv (written as each test stops)"),
    Option(name="assets", flag="--assets", kind=str, label="Asset requests to send", choices=ASSET_MODES,
           hint="all, only CDN misses, or none", help="which asset requests to send: all, only CDN misses, or none"),
    Option(name="max_concurrent_visitors", flag="--max-concurrent-visitors", kind=int, label="Most visitors in flight",
           metavar="N", hint="more arrivals are dropped (and counted)",
           help="visitors in flight before arrivals are dropped (and counted)"),
    Option(name="request_timeout_s", flag="--request-timeout-s", label="Request timeout (s)", metavar="S",
           help="client timeout of one request"),
    Option(name="seed", flag="--surge-seed", kind=int, cli_flag="--seed", label="Random seed", metavar="N", unset=-1,
           hint="-1 = the scenario's run.seed", help="seed (-1: the scenario's run.seed)"),
    Option(name="abort_on_error_rate", flag="--abort-on-error-rate", label="Abort above this error rate (fraction)",
           metavar="F", hint="0 = never", help="stop early when this fraction of requests fails (0: never)"),
    Option(name="abort_after_s", flag="--abort-after-s", label="Safety brake window (s)", metavar="S",
           hint="the error rate is judged over it, and not before it has passed",
           help="the window over which the error rate is judged, and the least run time before"),
)
_BY_NAME = {o.name: o for o in OPTIONS}
# The locust file's flag, set by surge loadtest only: the file it hands its measurements over in.
HANDOFF_FLAG = "--surge-handoff"
_KIND_TEXT = {str: "text", float: "a number", int: "a whole number"}
PLAN_FIELDS = ("scenario", "time_scale", "scale", "duration_s", "assets")  # what the load plan is made of


@dataclass(frozen=True, kw_only=True)
class LoadTestOptions:
    """One load test's options, checked as they are made (a bad one names its flag)."""

    scenario: str = "scenarios/anca-2020.toml"
    time_scale: float = 144.0
    scale: float = 0.001
    duration_s: float | None = None  # None: the whole scenario at the time scale
    slo: str = ""
    out: str = ""
    assets: str = "misses"
    max_concurrent_visitors: int = 10_000
    request_timeout_s: float = 30.0
    seed: int | None = None  # None: the scenario's run.seed
    abort_on_error_rate: float = 0.0  # 0: never
    abort_after_s: float = 30.0

    def __post_init__(self) -> None:
        # the time scale, the scale and the duration are the load plan's to check (sim.loadtest.schedule)
        flag = {o.name: o.surge_flag for o in OPTIONS}
        for name in ("request_timeout_s", "abort_after_s"):
            value = getattr(self, name)
            if not (0 < value < math.inf):
                raise ConfigError(flag[name], f"must be > 0 and finite, got {value}")
        if self.max_concurrent_visitors < 1:
            raise ConfigError(flag["max_concurrent_visitors"], f"must be >= 1, got {self.max_concurrent_visitors}")
        at_most(flag["max_concurrent_visitors"], self.max_concurrent_visitors, MAX_CONCURRENT_VISITORS)
        if not (0 <= self.abort_on_error_rate <= 1):
            raise ConfigError(flag["abort_on_error_rate"], f"must be within [0, 1], got {self.abort_on_error_rate}")
        if self.assets not in ASSET_MODES:
            raise ConfigError(flag["assets"], f"must be one of {', '.join(ASSET_MODES)}, got {self.assets!r}")
        if self.slo:
            parse_slo(self.slo)

    @classmethod
    def defaults(cls) -> dict:
        """Each option's default, by name, as the locust file's flags take it (``unset`` for None)."""
        return {f.name: _BY_NAME[f.name].unset if f.default is None else f.default
                for f in dataclasses.fields(cls)}

    @classmethod
    def from_namespace(cls, namespace) -> "LoadTestOptions":
        """The options in locust's parsed options (or any namespace with the fields): a flag at its ``unset``
        value is None, and each value is converted to its field's type (the web UI's form gives text)."""
        values = {}
        for field in dataclasses.fields(cls):
            option = _BY_NAME[field.name]
            value = getattr(namespace, field.name, None)
            if value is not None and type(value) is not option.kind:
                try:
                    value = option.kind(value)
                except (TypeError, ValueError):
                    raise ConfigError(option.surge_flag, f"must be {_KIND_TEXT[option.kind]}, got {value!r}") from None
            if value is None or option.unset is not None and value == option.unset:
                value = None if option.unset is not None else field.default
            values[field.name] = value
        return cls(**values)

    def to_argv(self) -> list[str]:
        """The locust file's flags for these options (a None option left out: its default is None)."""
        argv: list[str] = []
        for option in OPTIONS:
            value = getattr(self, option.name)
            if value is None or value == "":
                continue
            argv += [option.flag, repr(value) if isinstance(value, float) else str(value)]
        return argv

    def plan_key(self) -> tuple:
        """What the load plan depends on: a plan made for these is valid for any options with the same key."""
        return tuple(getattr(self, name) for name in PLAN_FIELDS)


class _Literal(str):
    """A help text shown as written: argparse %-formats help texts (where "1%" must be written "1%%"),
    locust's web UI shows them raw (where "1%%" stays "1%%")."""

    def __mod__(self, _params):
        return str(self)


def add_locust_arguments(group) -> list:
    """The locust file's flags for :data:`OPTIONS`, in their order, on an argparse group; the actions added.
    A flag's default is the options' own (its ``unset`` value for None)."""
    defaults = LoadTestOptions.defaults()
    return [group.add_argument(o.flag, dest=o.name, default=defaults[o.name], metavar=o.metavar, choices=o.choices,
                               type=None if o.kind is str else o.kind, help=_Literal(o.help))
            for o in OPTIONS]
