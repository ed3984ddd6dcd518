"""Small file-system helpers shared by the writers of models and predictions."""

from __future__ import annotations

import os

__all__ = ["public_mode", "write_atomic", "check_suffix", "HTML_SUFFIXES"]


def public_mode(path: str, mode: int) -> None:
    """Give a temporary file or directory the mode a normal one would get.

    ``mkstemp``/``mkdtemp`` create private (0600/0700) entries; after the rename
    they are ordinary outputs, so they get ``mode`` minus the user's umask.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


HTML_SUFFIXES = (".html", ".htm")


def check_suffix(path: str | os.PathLike, kind: str | None, suffixes: tuple[str, ...]) -> None:
    """Refuse an output path not ending in ``suffixes`` (none: any path)."""
    from enet.exceptions import UsageError

    if suffixes and not os.fspath(path).lower().endswith(suffixes):
        raise UsageError(f"{os.fspath(path)}: the {kind or 'output'} must go to a path "
                         f"ending in {' or '.join(suffixes)} (so that no data file is "
                         f"replaced by mistake); choose such a name")


def write_atomic(path: str | os.PathLike, data: bytes | str, kind: str | None = None,
                 suffixes: tuple[str, ...] = ()) -> str:
    """Write a file through a temporary sibling and a rename (never half-written).

    With ``suffixes`` the path must end in one of them (case-insensitive), so that a
    report or result (``kind``) can never replace a data file given by mistake.
    Returns the absolute path written.
    """
    import tempfile

    check_suffix(path, kind, suffixes)
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
