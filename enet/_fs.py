"""Small file-system helpers shared by the writers of models and predictions."""

from __future__ import annotations

import os

__all__ = ["public_mode"]


def public_mode(path: str, mode: int) -> None:
    """Give a temporary file or directory the mode a normal one would get.

    ``mkstemp``/``mkdtemp`` create private (0600/0700) entries; after the rename
    they are ordinary outputs, so they get ``mode`` minus the user's umask.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)
