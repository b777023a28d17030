"""The ``surge`` command line: ``main`` parses, one module per subcommand does the work.

Each subcommand module has ``add_parser(subparsers)`` and ``run(args) -> int``; this is the
only layer that prints, writes files and saves figures.
"""

from sim.cli.main import build_parser, main, main_entry

__all__ = ["main", "main_entry", "build_parser"]
