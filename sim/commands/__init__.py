"""One module per ``surge`` subcommand, each with ``add_parser(subparsers)`` and ``run(args) -> int``."""

from sim.commands import profile, run

ALL = [run, profile]
