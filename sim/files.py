"""Writing files: JSON (no inf or nan) and CSV, each written whole or not at all, and output folders.

A command that writes (``--out``) checks its destination before any work, with
:func:`writable_dir` or :func:`writable_file`: a path that cannot be written is found in
a second, not after the whole run. They raise :class:`NotWritable` (an ``OSError``) with
the reason; the command line turns it into one line naming the flag.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Iterable, Mapping, Sequence

__all__ = ["write_json", "write_text", "write_csv", "out_dir", "writable_dir", "writable_file", "NotWritable"]


class NotWritable(OSError):
    """An output path that cannot be created or written; ``reason`` says why, in a few words."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(f"cannot write to {path}: {reason}")


def _probe(folder: Path) -> None:
    """Create and remove a file in ``folder``: the one sure test that files can be written there."""
    try:
        fd, name = tempfile.mkstemp(prefix=".surge-check-", dir=folder)
    except OSError as err:
        raise NotWritable(folder, err.strerror or str(err)) from None
    os.close(fd)
    os.unlink(name)


def writable_dir(path: str | Path) -> Path:
    """The output folder ``path``, created now (with its parents) and checked writable."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise NotWritable(out, "it is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NotWritable(out, err.strerror or str(err)) from None
    _probe(out)
    return out


def writable_file(path: str | Path, *, make_folder: bool = True) -> Path:
    """The output file ``path``: its folder checked writable (created now unless ``make_folder`` is false).

    The file itself is not touched: it is written, whole, at the end."""
    out = Path(path)
    if out.is_dir():
        raise NotWritable(out, "it is a folder, not a file")
    if out.exists() and not os.access(out, os.W_OK):
        raise NotWritable(out, "permission denied")
    folder = out.parent
    if not make_folder and not folder.is_dir():
        raise NotWritable(folder, "no such folder" if not folder.exists() else "it is a file, not a folder")
    writable_dir(folder)
    return out


def out_dir(path: str | Path) -> Path:
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _clean(value):
    # JSON has no inf or nan: write them as null, never as invalid JSON.
    if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
        return None
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_json(path: Path, data: Mapping) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_clean(data), indent=2, sort_keys=False) + "\n")
    tmp.replace(path)  # never leave a half-written file behind


def write_text(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    tmp.replace(path)
