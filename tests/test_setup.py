"""`make test` sets up a fresh machine: the system packages the tests use, and no test that skips.

The README promises that `make test` alone does all the set-up; a test whose system part is missing
would otherwise pass by skipping, and the run would be green on a machine that checked nothing."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "system-packages"


def _test_sources():
    return sorted(p for p in (ROOT / "tests").rglob("*.py") if p.name != Path(__file__).name)


def test_no_test_skips():
    """pytest.skip, skipif and importorskip are not used: a missing part fails the test (tests/system.py)."""
    found = []
    for path in _test_sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in ("skip", "skipif", "importorskip", "xfail"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.attr}")
    assert found == []


def test_every_required_program_is_installed_by_make_test():
    """Each program a test asks for with ``require(program, package)`` is in tools/system-packages."""
    script = SCRIPT.read_text()
    listed = dict(re.findall(r"\[(\S+?)\]=(\S+)", script))
    required = set()
    for path in _test_sources() + [ROOT / "tests" / "servers.py"]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "require":
                required.add(tuple(ast.unparse(a) for a in node.args))
    assert required, "no test requires a system program: this check would be empty"
    constants = {"str(CHROMIUM)": "'/usr/bin/chromium'", "NGINX": "'/usr/sbin/nginx'"}
    for program, package in required:
        program = ast.literal_eval(constants.get(program, program))
        assert listed.get(program) == ast.literal_eval(package), (program, package)
    make = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "tools/system-packages" in make


def test_ci_runs_make_test_and_nothing_else():
    commands = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert commands == ["make test"]


def test_without_apt_a_missing_package_is_named_in_one_line_and_fails(tmp_path):
    """Where it cannot install (no apt-get, or not root), it names the packages and exits 1."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "id", "sort", "cat", "ip"):  # what the script runs, and ip; node, npm and apt-get left out
        (bin_dir / tool).symlink_to(shutil.which(tool))
    done = subprocess.run([str(bin_dir / "bash"), str(SCRIPT)], env={"PATH": str(bin_dir)},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "make test: missing system packages: nodejs npm (install them: sudo apt-get install nodejs npm)"]


def test_with_everything_present_it_does_nothing():
    done = subprocess.run([str(SCRIPT)], env={**os.environ}, capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
