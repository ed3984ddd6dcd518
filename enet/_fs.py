"""Small file-system helpers shared by the writers of models and predictions."""

from __future__ import annotations

import os

__all__ = ["public_mode", "write_atomic"]


def public_mode(path: str, mode: int) -> None:
    """Give a temporary file or directory the mode a normal one would get.

    ``mkstemp``/``mkdtemp`` create private (0600/0700) entries; after the rename
    they are ordinary outputs, so they get ``mode`` minus the user's umask.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


def write_atomic(path: str | os.PathLike, data: bytes | str) -> str:
    """Write a file through a temporary sibling and a rename (never half-written).

    Returns the absolute path written.
    """
    import tempfile

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
