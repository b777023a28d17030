"""One module per ``surge`` subcommand, each with ``add_parser(subparsers)`` and ``run(args) -> int``."""

from sim.commands import demo_site, loadtest, plan, profile, run, sweep

ALL = [run, profile, sweep, plan, loadtest, demo_site]
