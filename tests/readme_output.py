"""Running ``surge`` as a user does, and reading README.md's printed blocks, for tests/test_readme_figures.py."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT

__all__ = ["README", "WALL_TIME", "assert_shown_in_order", "number", "printed_blocks", "printed_figures",
           "readme_section", "surge"]

SURGE = [sys.executable, "-m", "sim"]
README = (ROOT / "README.md").read_text()
WALL_TIME = re.compile(r", \d+ s\): ")  # the quick advice's elapsed wall time, "…to 1:56, 9 s): …"


def surge(*args: str, timeout_s: float = 900) -> str:
    """``surge ARGS`` from the repository's root; its stdout. A run that failed fails the test with its stderr."""
    done = subprocess.run(SURGE + list(args), cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, f"surge {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
    return done.stdout


def readme_section(heading: str) -> str:
    return README.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def printed_blocks(section: str) -> list[list[str]]:
    """The section's fenced blocks without a language (console output; ```sh blocks are commands), as lines."""
    blocks: list[list[str]] = []
    inside, language = None, ""
    for line in section.splitlines():
        if line.strip().startswith("```"):
            if inside is None:
                inside, language = [], line.strip()[3:]
            else:
                if not language:
                    blocks.append(inside)
                inside = None
        elif inside is not None:
            inside.append(line)
    return blocks


def printed_figures(stdout: str) -> dict[str, str]:
    """A printed table's rows (after its title's dashes), label -> value: the columns part at two spaces or more."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line and set(line) == {"-"})
    rows = [re.split(r"\s{2,}", line, maxsplit=1) for line in lines[start + 1:] if line.strip()]
    return {row[0]: row[1] for row in rows if len(row) == 2}


def assert_shown_in_order(shown: list[str], printed: list[str], where: str) -> None:
    """Every README line (``...`` marks rows left out) is a line the command printed, in the same order."""
    printed = [WALL_TIME.sub(", N s): ", line) for line in printed]
    at = 0
    for line in shown:
        if line.strip() == "...":
            continue
        line = WALL_TIME.sub(", N s): ", line)
        assert line in printed[at:], (f"README {where}: this line is not what the command prints (now):\n"
                                      f"  README:  {line}\n  printed:\n" + "\n".join(f"    {p}" for p in printed))
        at = printed.index(line, at) + 1


def number(text: str) -> float:
    return float(re.match(r"[\d,.]+", text).group(0).replace(",", ""))
