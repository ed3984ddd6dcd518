"""Small file-system helpers shared by the writers of models and predictions."""

from __future__ import annotations

import os

__all__ = ["public_mode", "write_atomic", "check_output_file", "HTML_SUFFIXES", "GENERATOR"]


def public_mode(path: str, mode: int) -> None:
    """Give a temporary file or directory the mode a normal one would get.

    ``mkstemp``/``mkdtemp`` create private (0600/0700) entries; after the rename
    they are ordinary outputs, so they get ``mode`` minus the user's umask.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


HTML_SUFFIXES = (".html", ".htm")


# marks the reports and results enet writes, so that only those are ever replaced
GENERATOR = "enet"
_MARK = f'"generator": "{GENERATOR}"', f'name="generator" content="{GENERATOR}"'


def check_output_file(path: str | os.PathLike, kind: str | None, suffixes: tuple[str, ...]) -> None:
    """Refuse an output path not ending in ``suffixes`` (none: any path), or naming an
    existing file that enet did not write (a model's ``model.json``, someone's notes)."""
    from enet.exceptions import UsageError

    path = os.fspath(path)
    if suffixes and not path.lower().endswith(suffixes):
        raise UsageError(f"{path}: the {kind or 'output'} must go to a path ending in "
                         f"{' or '.join(suffixes)} (so that no data file is replaced by "
                         f"mistake); choose such a name")
    if os.path.isfile(path) and os.path.getsize(path) > 0:
        with open(path, "rb") as fh:
            head = fh.read(4096).decode("utf-8", errors="replace")
        if not any(mark in head for mark in _MARK):
            raise UsageError(f"{path} exists and was not written by enet; choose another "
                             f"path or remove it first")


def write_atomic(path: str | os.PathLike, data: bytes | str, kind: str | None = None,
                 suffixes: tuple[str, ...] = ()) -> str:
    """Write a file through a temporary sibling and a rename (never half-written).

    With ``suffixes`` the path must end in one of them (case-insensitive), so that a
    report or result (``kind``) can never replace a data file given by mistake.
    Returns the absolute path written.
    """
    import tempfile

    check_output_file(path, kind, suffixes)
    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(21, "is a directory; give a file name", path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        public_mode(tmp, 0o666)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
