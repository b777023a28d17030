"""Every command's ``--out``, checked at the top of its ``run()``: created now and proven writable, before any work.

A folder that cannot be made (a file in the way, no permission) is one line naming the
flag and the path, exit code 2, in a second rather than after the whole run.
"""

from __future__ import annotations

from pathlib import Path

from sim.errors import ConfigError
from sim.files import NotWritable, writable_dir, writable_file

__all__ = ["out_folder", "out_file"]


def out_folder(value: str | None, *, flag: str = "--out") -> Path | None:
    """The output folder (created now), or None when the flag was not given."""
    if value is None:
        return None
    try:
        return writable_dir(value)
    except NotWritable as err:
        raise ConfigError(flag, f"cannot write to {value}: {err.reason}") from None


def out_file(value: str | None, *, flag: str = "--out", make_folder: bool = True) -> Path | None:
    """The output file (its folder created now unless ``make_folder`` is false; the file is written at the end),
    or None when the flag was not given."""
    if value is None:
        return None
    try:
        return writable_file(value, make_folder=make_folder)
    except NotWritable as err:
        where = "" if err.path == str(value) else f" ({err.path})"
        raise ConfigError(flag, f"cannot write to {value}{where}: {err.reason}") from None
