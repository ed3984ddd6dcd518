"""Monitor runs and retrain decisions, kept in the registry's SQLite database.

Two tables next to the registry's own: ``monitor_runs`` (one row per
``enet monitor`` of a registered model) and ``retrain_log`` (every decision of
``enet retrain``: skipped, retrained, with the reason). The retrain policy reads
the runs; people read both with ``enet retrain --history``.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["History", "now_utc"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS monitor_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, name TEXT NOT NULL,
    version INTEGER NOT NULL, data TEXT NOT NULL, rows INTEGER NOT NULL, status TEXT NOT NULL,
    breaches TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS retrain_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, user TEXT NOT NULL,
    name TEXT NOT NULL, decision TEXT NOT NULL, reason TEXT NOT NULL,
    champion INTEGER, challenger INTEGER, detail TEXT NOT NULL DEFAULT '{}');
"""


def now_utc() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class History:
    """Monitor runs and retrain decisions of a registry directory.

    Parameters
    ----------
    root : path
        The registry directory (its ``registry.db`` is shared).
    """

    def __init__(self, root: str | os.PathLike):
        self.db_path = os.path.join(os.fspath(root), "registry.db")
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=60.0, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=60000")
            yield db
        finally:
            db.close()

    def record_run(self, name: str, version: int, data: str, rows: int, status: str,
                   breaches: list[str], time: _dt.datetime | None = None) -> int:
        """Store one monitor run; returns its id."""
        with self._connect() as db:
            cur = db.execute("INSERT INTO monitor_runs (time, name, version, data, rows, status, "
                             "breaches) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             ((time or now_utc()).isoformat(timespec="seconds"), name, version,
                              data, rows, status, json.dumps(breaches)))
            return int(cur.lastrowid)

    def runs(self, name: str, limit: int | None = None) -> list[dict]:
        """Monitor runs of ``name``, newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT id, time, version, data, rows, status, breaches FROM "
                              "monitor_runs WHERE name = ? ORDER BY id DESC" +
                              (f" LIMIT {int(limit)}" if limit else ""), (name,)).fetchall()
        keys = ("id", "time", "version", "data", "rows", "status", "breaches")
        return [dict(zip(keys, r[:-1] + (json.loads(r[-1]),))) for r in rows]

    def log_decision(self, name: str, decision: str, reason: str, champion: int | None,
                     challenger: int | None = None, detail: dict | None = None,
                     time: _dt.datetime | None = None) -> None:
        """Append a retrain decision."""
        with self._connect() as db:
            db.execute("INSERT INTO retrain_log (time, user, name, decision, reason, champion, "
                       "challenger, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       ((time or now_utc()).isoformat(timespec="seconds"), _user(), name,
                        decision, reason, champion, challenger,
                        json.dumps(detail or {}, default=str)))

    def decisions(self, name: str) -> list[dict]:
        """Retrain decisions of ``name``, oldest first."""
        with self._connect() as db:
            rows = db.execute("SELECT time, user, decision, reason, champion, challenger, detail "
                              "FROM retrain_log WHERE name = ? ORDER BY id", (name,)).fetchall()
        keys = ("time", "user", "decision", "reason", "champion", "challenger", "detail")
        return [dict(zip(keys, r[:-1] + (json.loads(r[-1]),))) for r in rows]
