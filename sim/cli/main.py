"""The ``surge`` command: argparse subcommands, each ``main(argv) -> int``.

The only place that prints, writes files and saves figures; the model lives in
the rest of ``sim``. Bad input exits with code 2 and one line naming the file,
key and value.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from sim.cli import advise, calibrate, compare, demo_site, export, fit, loadtest, plan, profile, report, risk, run, sweep
from sim.errors import ConfigError
from sim.interrupts import exit_code, reason, stop_on_signals

__all__ = ["main", "main_entry", "build_parser"]

COMMANDS = [run, advise, risk, profile, sweep, plan, report, loadtest, demo_site, calibrate, compare, fit, export]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump), exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="surge",
        description="Traffic-surge simulator for advocacy websites: will the site hold when a celebrity shares the link?",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error (already printed)
        return int(exc.code or 0)
    try:
        with stop_on_signals():
            return int(args.func(args) or 0)
    except ConfigError as err:
        print(str(err), file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # stopped where nothing was computed yet
        why = reason(exc)
        print(f"surge: {why}", file=sys.stderr)
        return exit_code(why)


def main_entry() -> None:
    sys.exit(main())
