"""The model registry: immutable versions, aliases with an audit log, in SQLite.

A registry is a directory holding ``registry.db`` (SQLite, WAL journal) and
``artifacts/NAME/VERSION/`` (verified model artifacts). Registering copies the
artifact into a staging directory first, then, inside one ``BEGIN IMMEDIATE``
transaction, takes the next version number, renames the staged directory into place
and inserts the row. A process killed at any point leaves either a complete version
or none: a renamed directory without its row is an orphan that is never listed (and
:meth:`Registry.collect_garbage` removes it). Concurrent writers are serialised by
SQLite's write lock.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import json
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from enet.artifact import load_model, model_digest, save_model
from enet.exceptions import EnetError, ModelError, UsageError
from enet.model import Model

__all__ = ["Registry", "Version", "GateError", "open_registry", "parse_ref", "resolve_model",
           "DEFAULT_REGISTRY"]

DEFAULT_REGISTRY = "enet-registry"


class GateError(EnetError):
    """A promotion gate failed; the alias did not move."""

    exit_code = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL, version INTEGER NOT NULL, sha256 TEXT NOT NULL, created TEXT NOT NULL,
    user TEXT NOT NULL, parent INTEGER, description TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL, PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS tags (
    name TEXT NOT NULL, version INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (name, version, key));
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (name, alias));
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, user TEXT NOT NULL,
    action TEXT NOT NULL, name TEXT NOT NULL, alias TEXT, from_version INTEGER,
    to_version INTEGER, reason TEXT NOT NULL DEFAULT '');
"""


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def check_name(value: str, what: str = "model name") -> str:
    """A name usable in paths and references: letters, digits, '.', '_', '-'."""
    if not isinstance(value, str) or not _NAME.match(value) or value in (".", ".."):
        raise UsageError(f"invalid {what} {value!r}: use 1-128 letters, digits, '.', '_' or "
                         f"'-', starting with a letter or digit")
    return value


def check_text(value: str, what: str) -> str:
    """Free text (descriptions, tag values, reasons) without control characters."""
    if any(ord(ch) < 32 and ch not in "\t" or ord(ch) == 127 for ch in value):
        raise UsageError(f"{what} must not contain control characters")
    if len(value) > 10_000:
        raise UsageError(f"{what} is longer than 10,000 characters")
    return value


@dataclass(frozen=True)
class Version:
    """One registered model version."""

    name: str
    version: int
    sha256: str
    created: str
    user: str
    parent: int | None
    description: str
    summary: dict
    tags: dict
    aliases: list[str]

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"


def _summary(model: Model) -> dict:
    """What the registry shows without opening the artifact."""
    lin = model.lineage.get("data", {})
    return {"alpha": model.alpha, "l1_ratio": model.l1_ratio,
            "cv_rmse": model.metrics.get("cv_rmse"), "cv_mse": model.metrics.get("cv_mse"),
            "cv_r2": model.metrics.get("cv_r2"), "n_nonzero": model.n_nonzero,
            "n_features": len(model.features), "solver": model.certificate.get("solver"),
            "data": {"sha256": lin.get("sha256"), "rows": lin.get("rows"),
                     "path": lin.get("path")},
            "params": model.params, "versions": model.lineage.get("versions", {})}


class Registry:
    """A registry directory (created on first use).

    Parameters
    ----------
    root : path
        Directory of ``registry.db`` and ``artifacts/``.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = os.path.abspath(os.fspath(root))
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise UsageError(f"{self.root}: the registry must be a directory")
        os.makedirs(os.path.join(self.root, "artifacts", ".staging"), exist_ok=True)
        self.db_path = os.path.join(self.root, "registry.db")
        with self._connect() as db:
            db.executescript(_SCHEMA)

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=60.0, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=60000")
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, serialised against every other writer."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _artifact_dir(self, name: str, version: int) -> str:
        return os.path.join(self.root, "artifacts", name, str(version))

    def _audit(self, db, action: str, name: str, alias=None, old=None, new=None,
               reason: str = "") -> None:
        db.execute("INSERT INTO audit (time, user, action, name, alias, from_version, "
                   "to_version, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (_now(), _user(), action, name, alias, old, new, reason))

    # ------------------------------------------------------------------ writing
    def register(self, name: str, model: Model, description: str = "",
                 tags: dict | None = None, parent: int | None = None) -> Version:
        """Add ``model`` as the next version of ``name`` (immutable)."""
        check_name(name)
        check_text(description, "the description")
        tags = {check_name(k, "tag key"): check_text(str(v), "a tag value")
                for k, v in (tags or {}).items()}
        staging = os.path.join(self.root, "artifacts", ".staging", uuid.uuid4().hex)
        save_model(model, staging)
        digest = model_digest(staging)
        summary = json.dumps(_summary(model), sort_keys=True, allow_nan=False)
        try:
            with self._write() as db:
                # numbers are never reused, even after a delete (the audit log keeps them)
                (last,) = db.execute("SELECT MAX(COALESCE((SELECT MAX(version) FROM versions "
                                     "WHERE name = ?1), 0), COALESCE((SELECT MAX(to_version) "
                                     "FROM audit WHERE name = ?1 AND action = 'register'), 0))",
                                     (name,)).fetchone()
                version = last + 1
                if parent is not None and not db.execute(
                        "SELECT 1 FROM versions WHERE name = ? AND version = ?",
                        (name, parent)).fetchone():
                    raise UsageError(f"{name}/{parent}: no such parent version")
                target = self._artifact_dir(name, version)
                if os.path.exists(target):            # an orphan of a killed registration
                    shutil.rmtree(target)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.rename(staging, target)
                db.execute("INSERT INTO versions (name, version, sha256, created, user, parent, "
                           "description, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (name, version, digest, _now(), _user(), parent, description,
                            summary))
                db.executemany("INSERT INTO tags VALUES (?, ?, ?, ?)",
                               [(name, version, k, v) for k, v in tags.items()])
                self._audit(db, "register", name, new=version)
        finally:
            if os.path.exists(staging):
                shutil.rmtree(staging, ignore_errors=True)
        return self.get(name, version)

    def set_alias(self, name: str, alias: str, version: int, reason: str = "",
                  action: str = "promote") -> int | None:
        """Point ``alias`` at ``version`` atomically; returns the previous version."""
        check_name(alias, "alias")
        check_text(reason, "the reason")
        with self._write() as db:
            self._require(db, name, version)
            row = db.execute("SELECT version FROM aliases WHERE name = ? AND alias = ?",
                             (name, alias)).fetchone()
            old = row[0] if row else None
            db.execute("INSERT OR REPLACE INTO aliases VALUES (?, ?, ?)", (name, alias, version))
            self._audit(db, action, name, alias, old, version, reason)
        return old

    def rollback(self, name: str, alias: str = "champion", reason: str = "") -> tuple[int, int]:
        """Move ``alias`` back to the version it pointed at before the current one was
        promoted (repeatable: each rollback goes one promotion further back; a version
        rolled back from is not returned to, and deleted versions are skipped)."""
        with self._connect() as db:
            events = db.execute(
                "SELECT action, from_version, to_version FROM audit WHERE name = ? AND "
                "alias = ? AND action IN ('promote', 'rollback') ORDER BY id",
                (name, alias)).fetchall()
        current = self.alias_version(name, alias)
        if current is None:
            raise UsageError(f"{name}@{alias} is not set; nothing to roll back")
        # replay the moves as a stack: a promotion pushes, a rollback pops
        stack: list[int] = []
        for action, _, to in events:
            if action == "rollback":
                while stack and stack[-1] != to:
                    stack.pop()
            if not stack or stack[-1] != to:
                stack.append(to)
        earlier = [v for v in stack[:-1] if v != current and self._exists(name, v)] \
            if stack and stack[-1] == current else []
        if not earlier:
            raise UsageError(f"{name}@{alias}: no earlier version to roll back to")
        self.set_alias(name, alias, earlier[-1], reason or "rollback", action="rollback")
        return current, earlier[-1]

    def _exists(self, name: str, version: int) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM versions WHERE name = ? AND version = ?",
                              (name, version)).fetchone() is not None

    def promote(self, name: str, version: int, alias: str = "champion",
                max_rmse_increase: float = 0.05, allow_schema_change: bool = False,
                force: bool = False, reason: str = "", dry_run: bool = False) -> dict:
        """Move ``alias`` to ``version`` if the promotion gates pass.

        Gates, against the version the alias points at now (none if unset): the
        required inputs are the same (unless ``allow_schema_change``); the CV RMSE is
        at most ``(1 + max_rmse_increase)`` times the current one. ``force`` moves the
        alias anyway and needs a ``reason``, which the audit log keeps. ``dry_run``
        evaluates the gates and returns them (``passed`` says whether all passed)
        without moving the alias or raising.

        Returns
        -------
        dict
            ``gates`` (name, passed, detail), ``stability`` (see
            :func:`enet.stability.compare_coefficients`) and ``previous`` version.

        Raises
        ------
        GateError
            A gate failed (without ``force``); the alias is unchanged.
        """
        from enet.stability import compare_coefficients, schema_differences

        if not max_rmse_increase >= 0:
            raise UsageError(f"--max-rmse-increase must be >= 0; got {max_rmse_increase}")
        if force and not reason.strip():
            raise UsageError("--force needs --reason (it is kept in the audit log)")
        new = self.load(name, version)
        current = self.alias_version(name, alias)
        result = {"previous": current, "gates": [], "stability": None}
        old = None
        if current is not None and current != version:
            try:
                old = self.load(name, current)
            except EnetError as exc:
                # a damaged holder cannot be compared with: the gates fail, and --force
                # (with its reason) is the way to move the alias off it
                result["gates"].append({"gate": "current", "passed": False,
                                        "detail": f"@{alias} ({name}/{current}) cannot be "
                                                  f"loaded: {exc}"})
        if old is not None:
            diffs = schema_differences(old, new)
            result["gates"].append({"gate": "schema", "passed": not diffs or allow_schema_change,
                                    "detail": "; ".join(diffs) or "same inputs"})
            ro, rn = old.metrics["cv_rmse"], new.metrics["cv_rmse"]
            limit = ro * (1.0 + max_rmse_increase)
            result["gates"].append({"gate": "cv_rmse", "passed": rn <= limit,
                                    "detail": f"{rn:.6g} vs {ro:.6g} (limit {limit:.6g})"})
            result["stability"] = compare_coefficients(old, new)
        failed = [g for g in result["gates"] if not g["passed"]]
        result["passed"] = not failed
        if dry_run:
            return result
        if failed and not force:
            raise GateError(f"{name}/{version} not promoted to @{alias}: " + "; ".join(
                f"{g['gate']} gate failed ({g['detail']})" for g in failed) +
                "; pass --force --reason '...' to override" +
                (" (or --allow-schema-change for the schema gate)"
                 if any(g["gate"] == "schema" for g in failed) else ""))
        note = reason
        if failed:
            note = f"forced past {', '.join(g['gate'] for g in failed)}: {reason}"
        self.set_alias(name, alias, version, note)
        return result

    def diff(self, name: str, a: int, b: int) -> dict:
        """Two versions side by side: parameters, metrics and coefficient changes."""
        from enet.stability import compare_coefficients

        va, vb = self.get(name, a), self.get(name, b)
        ma, mb = self.load(name, a), self.load(name, b)
        pa, pb = va.summary.get("params", {}), vb.summary.get("params", {})
        keys = ("alpha", "l1_ratio", "cv_rmse", "cv_r2", "n_nonzero", "n_features", "solver")
        return {"params": {k: (pa.get(k), pb.get(k)) for k in sorted(set(pa) | set(pb))
                           if pa.get(k) != pb.get(k) and k != "fold_sizes"},
                "summary": {k: (va.summary.get(k), vb.summary.get(k)) for k in keys},
                "coefficients": compare_coefficients(ma, mb),
                "changed_sign": compare_coefficients(ma, mb)["sign_flips"]}

    def tag(self, name: str, version: int, key: str, value: str) -> None:
        check_name(key, "tag key")
        check_text(value, "a tag value")
        with self._write() as db:
            self._require(db, name, version)
            db.execute("INSERT OR REPLACE INTO tags VALUES (?, ?, ?, ?)",
                       (name, version, key, value))
            self._audit(db, "tag", name, new=version, reason=f"{key}={value}")

    def delete(self, name: str, version: int, reason: str = "") -> None:
        """Remove a version no alias points at (its row first, then its files)."""
        with self._write() as db:
            self._require(db, name, version)
            pointing = [a for (a,) in db.execute(
                "SELECT alias FROM aliases WHERE name = ? AND version = ?", (name, version))]
            if pointing:
                raise UsageError(f"{name}/{version} is {', '.join('@' + a for a in pointing)}; "
                                 f"move the alias first")
            db.execute("DELETE FROM versions WHERE name = ? AND version = ?", (name, version))
            db.execute("DELETE FROM tags WHERE name = ? AND version = ?", (name, version))
            self._audit(db, "delete", name, old=version, reason=reason)
        shutil.rmtree(self._artifact_dir(name, version), ignore_errors=True)

    def collect_garbage(self) -> list[str]:
        """Remove staged and orphaned artifact directories (no registry row)."""
        removed = []
        base = os.path.join(self.root, "artifacts")
        with self._connect() as db:
            known = {(n, str(v)) for n, v in db.execute("SELECT name, version FROM versions")}
        for entry in os.listdir(os.path.join(base, ".staging")):
            shutil.rmtree(os.path.join(base, ".staging", entry), ignore_errors=True)
            removed.append(os.path.join(".staging", entry))
        for name in os.listdir(base):
            if name == ".staging" or not os.path.isdir(os.path.join(base, name)):
                continue
            for version in os.listdir(os.path.join(base, name)):
                if (name, version) not in known:
                    shutil.rmtree(os.path.join(base, name, version), ignore_errors=True)
                    removed.append(os.path.join(name, version))
        return removed

    # ------------------------------------------------------------------ reading
    def _require(self, db, name: str, version: int) -> None:
        if not db.execute("SELECT 1 FROM versions WHERE name = ? AND version = ?",
                          (name, version)).fetchone():
            raise ModelError(f"{name}/{version}: no such model version in {self.root}")

    def alias_version(self, name: str, alias: str) -> int | None:
        with self._connect() as db:
            row = db.execute("SELECT version FROM aliases WHERE name = ? AND alias = ?",
                             (name, alias)).fetchone()
        return row[0] if row else None

    def get(self, name: str, version: int) -> Version:
        with self._connect() as db:
            row = db.execute("SELECT name, version, sha256, created, user, parent, description, "
                             "summary FROM versions WHERE name = ? AND version = ?",
                             (name, version)).fetchone()
            if row is None:
                raise ModelError(f"{name}/{version}: no such model version in {self.root}")
            tags = dict(db.execute("SELECT key, value FROM tags WHERE name = ? AND version = ?",
                                   (name, version)).fetchall())
            aliases = [a for (a,) in db.execute(
                "SELECT alias FROM aliases WHERE name = ? AND version = ? ORDER BY alias",
                (name, version))]
        return Version(*row[:7], json.loads(row[7]), tags, aliases)

    def versions(self, name: str | None = None) -> list[Version]:
        with self._connect() as db:
            keys = db.execute("SELECT name, version FROM versions " +
                              ("WHERE name = ? " if name else "") + "ORDER BY name, version",
                              (name,) if name else ()).fetchall()
        return [self.get(n, v) for n, v in keys]

    def audit_log(self, name: str) -> list[dict]:
        with self._connect() as db:
            rows = db.execute("SELECT time, user, action, alias, from_version, to_version, "
                              "reason FROM audit WHERE name = ? ORDER BY id", (name,)).fetchall()
        keys = ("time", "user", "action", "alias", "from", "to", "reason")
        return [dict(zip(keys, r)) for r in rows]

    def load(self, name: str, version: int) -> Model:
        """Load a version, refusing an artifact changed since registration."""
        v = self.get(name, version)
        path = self._artifact_dir(name, version)
        if not os.path.isdir(path):
            raise ModelError(f"{name}/{version}: its artifact is missing from {path}")
        digest = model_digest(path)
        if digest != v.sha256:
            raise ModelError(f"{name}/{version}: the artifact at {path} was modified after "
                             f"registration (sha256 {digest[:12]}... != registered "
                             f"{v.sha256[:12]}...); restore it or register a new version")
        return load_model(path)


def open_registry(path: str | os.PathLike | None = None) -> Registry:
    """The registry at ``path``, else ``$ENET_REGISTRY``, else ``./enet-registry``."""
    return Registry(path or os.environ.get("ENET_REGISTRY") or DEFAULT_REGISTRY)


def parse_ref(ref: str) -> tuple[str, int | None, str | None]:
    """``NAME/3`` -> (NAME, 3, None); ``NAME@champion`` -> (NAME, None, "champion")."""
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return check_name(name), None, check_name(alias, "alias")
    if "/" in ref:
        name, version = ref.split("/", 1)
        if not version.isdigit():
            raise UsageError(f"{ref!r}: a version is a number, as in {name}/3")
        return check_name(name), int(version), None
    raise UsageError(f"{ref!r} is neither a model path nor a registry reference (NAME/3 or "
                     f"NAME@champion)")


def resolve_model(ref: str | os.PathLike, registry: str | os.PathLike | None = None) -> Model:
    """Load a model from a path, or from the registry by ``NAME/3`` or ``NAME@alias``."""
    text = os.fspath(ref)
    if os.path.exists(text):
        return load_model(text)
    if "@" not in text and not re.match(r"^[^/]+/\d+$", text):
        return load_model(text)              # a path that does not exist: its own message
    name, version, alias = parse_ref(text)
    reg = open_registry(registry)
    if alias is not None:
        version = reg.alias_version(name, alias)
        if version is None:
            raise ModelError(f"{text}: no alias '{alias}' for model '{name}' in {reg.root}")
    return reg.load(name, version)
