"""One module per ``surge`` subcommand, each with ``add_parser(subparsers)`` and ``run(args) -> int``."""

from sim.commands import demo_site, loadtest, profile, run, sweep

ALL = [run, profile, sweep, loadtest, demo_site]
