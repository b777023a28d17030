"""Replay a surge scenario against a staging site with locust, as an open workload.

    locust -f loadtests/locustfile.py --scenario scenarios/anca-2020.toml \
        --time-scale 144 --scale 0.001 --host http://127.0.0.1:8000 [--headless] [--out DIR]

Works with locust's web UI, ``--headless``, ``--processes N`` and ``--master``/``--worker``:
one driver per process plays its share of the arrivals (see ``loadtests/driver.py``).
The shape is a thin wrapper over ``sim.loadtest.schedule.LoadPlan``, itself over the profile in
``sim.traffic.profile``: the surge is defined in one place.

In the web UI:

* the surge options come first, open, under "Custom parameters" (scenario, time scale, scale,
  duration, then the rest), each with the label and unit ``sim.loadtest.options`` declares for it;
  Users and Ramp up are greyed out, as locust does for a shape that
  ignores them (``use_common_options = False``): the shape runs one driver per process, and the
  "Number of Users" chart counts those drivers, not visitors;
* several tests run one after the other in one process (New, or POST /swarm): each starts afresh
  and, when it stops, writes ``summary.json`` and ``timeseries.csv`` to ``--out`` and logs its SLO
  verdict; a later test overwrites the files, as locust's own ``--csv`` and ``--html`` are;
* locust's charts are fixed (requests/s, response times, users) and take no extra line, so the
  target arrival rate is in a "Surge" tab instead (``loadtests/web_ui.py``).

The site is checked as locust starts (``--host``, by ``sim.loadtest.host.check_host``, as
``surge loadtest`` checks it: a bad one is one line on stderr and exit code 2, nothing sent) and,
in the web UI, as each test starts (a bad Host is refused, the test not started). A host that is
not loopback must also prove that it wants the load (``sim.loadtest.ownership``: the user's token
at ``/.well-known/surge-verify.txt``, or ``--i-control-this-host``), and a first test of it stays
within its limit, on the same routes: headless as the options are parsed (before ``--processes``
forks; workers follow the master's host), in the web UI as each test starts, and the shape sends
nothing to a host that was not checked. A test whose
visitors died in the load generator, or whose site served none of them, is logged as invalid
or failed and exits 1 (``outcome`` in summary.json, ``sim.loadtest.meaning``).

The options are declared once, in ``sim.loadtest.options`` (``surge loadtest`` hands the same
:class:`~sim.loadtest.options.LoadTestOptions` over as these flags); the state of the process and
of each test lives on objects (``loadtests/session.py``); the summary is built by
``sim.loadtest.result``, which also decides whether the site held. Run by ``surge loadtest``, this
file hands its measurements to surge, which writes ``summary.json`` once.

Headless, the Surge tab's figures are logged every 5 s. ``locust -f loadtests/locustfile.py --help`` cannot
list the surge options (locust prints its help before it imports the locustfile);
``python loadtests/locustfile.py --help`` lists them, and with other arguments runs locust on this file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import psutil  # locust's own dependency
from locust import LoadTestShape, User, constant, events, task
from locust.runners import WorkerRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from loadtests.session import DRAIN_S, SurgeProcess, check_owner, log, of  # noqa: E402
from sim.errors import ConfigError  # noqa: E402
from sim.loadtest.host import check_host  # noqa: E402
from sim.loadtest.options import HANDOFF_FLAG, LoadTestOptions, add_locust_arguments  # noqa: E402
from sim.loadtest.ownership import LIFT_FLAG, VOUCH_FLAG, Ownership  # noqa: E402

# The host's proof, fetched as the options are parsed (before --processes forks), for the process's state.
_proven_at_parse: list[Ownership] = []


def _host_argument(value: str) -> str:
    """locust's own --host, checked as it is parsed: before ``--processes`` forks its workers, so a bad host
    stops every process at once (one line and exit code 2, as ``surge loadtest``)."""
    try:
        return check_host(value)
    except ConfigError as err:
        _refuse(err)


def _refuse(err: ConfigError) -> None:
    """One line on stderr and exit code 2, as ``surge loadtest`` says it."""
    sys.stderr.write(f"{err}\n")
    sys.stderr.flush()
    sys.exit(2)


def _checked_as_parsed(parse_args):
    """The parser's ``parse_args``, which also checks the surge options, and that a host that is not loopback
    wants the load of a test that starts by itself (headless, --autostart): as the options are read, before
    locust says a word or ``--processes`` forks, so one process fetches the proof, and a refusal is the only
    line. Workers follow the master's host and options, and check nothing."""
    def parse(*args, **kwargs):
        parsed = parse_args(*args, **kwargs)
        if getattr(parsed, "worker", False) or not hasattr(parsed, "scenario"):
            return parsed
        try:
            options = LoadTestOptions.from_namespace(parsed)
            starts = getattr(parsed, "headless", False) or getattr(parsed, "autostart", False)
            if starts and getattr(parsed, "host", None):
                _proven_at_parse[:] = [check_owner(parsed.host, parsed, options)]
        except ConfigError as err:
            _refuse(err)
        return parsed

    return parse


@events.init_command_line_parser.add_listener
def _arguments(parser) -> None:
    for action in parser._actions:  # argparse has no public way to reach an option already added
        if "--host" in action.option_strings:
            action.type = _host_argument
    parser.parse_args = _checked_as_parsed(parser.parse_args)
    # In this order in the web UI, and in a group of their own in --help.
    g = parser.add_argument_group("Surge options (loadtests/locustfile.py)",
                                  "The scenario's traffic as an open workload, one driver per process:\n"
                                  "--users, --spawn-rate and --run-time do not apply.")
    for action in add_locust_arguments(g):
        # shown in the web UI (an argument group takes none of locust's own keywords such as
        # include_in_web_ui: its attributes are set here instead)
        action.include_in_web_ui, action.is_secret, action.is_required, action.is_multiple = True, False, False, False
    # On the command line only, not in the web UI: nobody should vouch for a host by a click.
    g.add_argument(VOUCH_FLAG, metavar="URL", default=None,
                   help="skip the proof that a host that is not loopback wants this load: you vouch that you control "
                   "it (repeat --host's scheme, host and port; recorded in summary.json)")
    g.add_argument(LIFT_FLAG, action="store_true",
                   help="lift the first test's limit on a proven host, for good (sim/loadtest/ownership.py)")
    g.add_argument(HANDOFF_FLAG, default="", help=argparse.SUPPRESS)


@events.init.add_listener
def _init(environment, **_kw) -> None:
    _check_host_at_start(environment)
    environment.surge = SurgeProcess(environment, ownership=_proven_at_parse[0] if _proven_at_parse else None)
    environment.surge.attach()
    if environment.web_ui is not None:
        from loadtests.web_ui import install

        install(environment)


def _check_host_at_start(environment) -> None:
    """A test that starts by itself (headless, --autostart) needs --host; a bad one was refused as it was
    parsed (``_host_argument``), and so was one that has not proven it wants the load (``_checked_as_parsed``).
    Workers take the master's; the web UI may leave it to its Host field, checked as each test starts
    (``loadtests/web_ui.py``)."""
    if isinstance(environment.runner, WorkerRunner):
        return
    opts = environment.parsed_options
    if environment.host is None and (getattr(opts, "headless", False) or getattr(opts, "autostart", False)):
        if getattr(opts, "processes", 0):  # the workers it forked wait for a master that is leaving: end them
            for child in psutil.Process().children():
                child.kill()
        _host_argument(None)


class SurgeShape(LoadTestShape):
    """One driver user per process for the plan's duration (plus a drain), then stop."""

    use_common_options = False  # Users, Ramp up, Run time do not apply: locust greys them out (and warns of -u/-r/-t)

    def reset_time(self):
        of(self.runner.environment).new_test()  # locust calls this as each test starts, before its first tick
        super().reset_time()

    def tick(self):
        surge = of(self.runner.environment)
        try:
            plan = surge.plan()
        except (ValueError, OSError) as err:  # e.g. a scenario or a scale typed in the web UI
            log.error("surge: cannot run this test: %s", err)
            return None
        test = surge.test
        if not test.owner_checked:  # once a test, before its drivers start
            if not surge.owner_ok():
                return None
            test.owner_checked = True
        drivers = surge.driver_count()
        if len(test.results) >= drivers or self.get_run_time() > plan.duration_s + DRAIN_S + 5:
            return None  # every driver has reported, or the drain is over
        return drivers, drivers

    def target_rate_per_s(self) -> float:
        return of(self.runner.environment).plan().target_rate_per_s(self.get_run_time())


class SurgeVisitors(User):
    """Not a visitor: the driver that starts a visitor greenlet per planned arrival."""

    wait_time = constant(3600)

    @task
    def drive(self) -> None:
        of(self.environment).drive(self)


if __name__ == "__main__":
    # `locust -f loadtests/locustfile.py --help` prints locust's help before it imports a locustfile, so without
    # the surge options (locust 2.47; locust issue #2917). Run as a script, this file lists them, and with any
    # other arguments hands over to locust on itself.
    if {"-h", "--help"} & set(sys.argv[1:]):
        from locust.argument_parser import get_parser

        get_parser().parse_args(["--help"])  # the surge options too: their listener is registered by now
    os.execv(sys.executable, [sys.executable, "-m", "locust", "-f", str(Path(__file__).resolve()), *sys.argv[1:]])
