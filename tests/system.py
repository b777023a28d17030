"""The system programs some tests need (Debian packages `make test` installs): a missing one fails the test.

A test never skips for a missing part: `make test` installs them (tools/system-packages), so a missing
program here means a broken set-up, which must show as red."""

from __future__ import annotations

import glob
import os
import shutil

import pytest


def require(program: str, package: str) -> str:
    """The path of ``program`` (an absolute path, or a name looked up on PATH); fails the test when absent.

    An absolute path may hold a ``*`` where a package names its program by version (/usr/sbin/php-fpm*):
    the last match in sort order is taken."""
    if "*" in program:
        found = [p for p in sorted(glob.glob(program)) if os.access(p, os.X_OK)]
        path = found[-1] if found else None
    else:
        path = program if os.path.isabs(program) and os.access(program, os.X_OK) else shutil.which(program)
    if not path:
        pytest.fail(f"{program} is missing: `make test` installs Debian's {package} (tools/system-packages)",
                    pytrace=False)
    return path
