"""Where the demo site keeps signatures: one SQLite file, one connection per worker slot.

The store is real, not simulated, because the property a load test must be able
to check is real: a signature the site acknowledged is a signature it kept. A
worker commits the row before it answers 2xx, so after any load test
"acknowledged signatures == rows" holds exactly (see ``tests/cli/test_demo_site.py``).

WAL mode lets ``count()`` read while workers write; ``synchronous=NORMAL`` is the
usual production setting with WAL (a commit survives a crash of the process,
though not necessarily a power cut), so commits cost what they cost on a real
small site rather than an fsync each. Writers serialize on SQLite's lock and wait
up to ``busy_timeout_s`` for it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time

__all__ = ["SignatureStore", "SignatureWriter"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS signatures (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL,
    email     TEXT NOT NULL,
    zip       TEXT NOT NULL,
    signed_at REAL NOT NULL
)
"""


def _connect(path: str, busy_timeout_s: float, *, shared: bool = False) -> sqlite3.Connection:
    # shared: the connection moves between threads, one at a time (a worker slot is held by one
    # waitress thread at once, and the gate hands it on), which sqlite3 allows when asked.
    conn = sqlite3.connect(path, timeout=busy_timeout_s, check_same_thread=not shared)
    try:
        conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


class SignatureWriter:
    """One worker slot's connection (used by one thread at a time); ``add`` returns once the row is committed."""

    def __init__(self, path: str, busy_timeout_s: float) -> None:
        self._conn = _connect(path, busy_timeout_s, shared=True)

    def add(self, name: str, email: str, zip_code: str) -> int:
        """Insert and commit one signature; its row id. Raises ``sqlite3.Error`` if it was not stored."""
        with self._conn:  # commits on success, rolls back on an exception
            cur = self._conn.execute(
                "INSERT INTO signatures (name, email, zip, signed_at) VALUES (?, ?, ?, ?)",
                (name, email, zip_code, time.time()),
            )
        return int(cur.lastrowid)

    def close(self) -> None:
        self._conn.close()


class SignatureStore:
    """The signatures file: created (WAL) by ``create()``, written by ``writer()``s, counted by ``count()``."""

    def __init__(self, path: str, *, busy_timeout_s: float = 30.0) -> None:
        self.path = os.fspath(path)
        self.busy_timeout_s = busy_timeout_s

    def create(self) -> None:
        """Make the table if it is missing and switch the file to WAL (a persistent setting)."""
        with contextlib.closing(_connect(self.path, self.busy_timeout_s)) as conn:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"{self.path}: could not switch to WAL (got {mode!r})")
            with conn:
                conn.execute(_SCHEMA)

    def writer(self) -> SignatureWriter:
        """A new connection for one worker slot (any thread may use it, one at a time)."""
        return SignatureWriter(self.path, self.busy_timeout_s)

    def count(self) -> int:
        """Rows stored so far (0 if the file does not exist yet)."""
        if not os.path.exists(self.path):
            return 0
        with contextlib.closing(_connect(self.path, self.busy_timeout_s)) as conn:
            try:
                return int(conn.execute("SELECT COUNT(*) FROM signatures").fetchone()[0])
            except sqlite3.OperationalError as err:
                if "no such table" in str(err):  # the file exists but create() has not run
                    return 0
                raise
