"""The system programs some tests need (Debian packages `make test` installs): a missing one fails the test.

A test never skips for a missing part: `make test` installs them (tools/system-packages), so a missing
program here means a broken set-up, which must show as red."""

from __future__ import annotations

import os
import shutil

import pytest


def require(program: str, package: str) -> str:
    """The path of ``program`` (an absolute path, or a name looked up on PATH); fails the test when absent."""
    path = program if os.path.isabs(program) and os.access(program, os.X_OK) else shutil.which(program)
    if not path:
        pytest.fail(f"{program} is missing: `make test` installs Debian's {package} (tools/system-packages)",
                    pytrace=False)
    return path
