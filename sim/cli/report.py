"""``surge report DIR [--out FILE] [--slo OBJECTIVES]``: one HTML page to share a run, load test or sweep.

The folders ``surge run``, ``surge loadtest`` and ``surge sweep`` write are for tools;
the page is for people: it opens offline, by a double click, and can be mailed as is.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.errors import ConfigError
from sim.output.report import build_report
from sim.cli.outputs import out_file

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report",
        help="make one self-contained HTML page from a run, load-test or sweep folder",
        description="Read the folder surge run, surge loadtest or surge sweep wrote and write one HTML page "
        "(figures inline, no scripts, nothing fetched) that opens offline in a browser: the summary, the "
        "SLO verdict, every plot and, for a sweep, the least capacity and every point.",
    )
    p.add_argument("dir", metavar="RUN_OR_SWEEP_DIR", help="folder written by surge run, loadtest or sweep")
    p.add_argument("--out", metavar="FILE", help="the page to write (default: DIR/report.html)")
    p.add_argument("--slo", metavar="OBJECTIVES",
                   help='judge the figures against these objectives, e.g. "p95<2s,errors<1%%" '
                        "(default: the SLO the folder holds, if any)")
    p.set_defaults(func=run)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)  # never leave a half-written page behind
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError("--out", f"cannot write {path}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    # A bad --out (its folder must exist) is found now, not after the page is built.
    out = out_file(args.out, make_folder=False) if args.out else None
    out = out or Path(args.dir) / "report.html"
    page = build_report(args.dir, slo=args.slo, page_dir=out.parent)  # links (locust.html) relative to the page
    _write(out, page)
    print(f"wrote {out} ({len(page.encode('utf-8')) / 1024:,.0f} KiB)")
    return 0
