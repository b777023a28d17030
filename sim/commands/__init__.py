"""One module per ``surge`` subcommand, each with ``add_parser(subparsers)`` and ``run(args) -> int``."""

from sim.commands import calibrate, compare, demo_site, loadtest, plan, profile, report, run, sweep

ALL = [run, profile, sweep, plan, report, loadtest, demo_site, calibrate, compare]
