"""The model artifact: a directory (or zip) of ``model.json`` plus ``.npy`` arrays.

Nothing is pickled: arrays are written and read with ``allow_pickle=False``.
``model.json`` lists the sha256 of every array file and carries a checksum of
its own canonical content; both are verified on load. A model is written to a
temporary sibling directory and renamed into place, so a failure never leaves
a half-written model.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile

import numpy as np

from enet._fs import public_mode
from enet.exceptions import ModelError
from enet.model import Model

__all__ = ["FORMAT_VERSION", "save_model", "load_model", "check_output_path", "model_digest"]

FORMAT_NAME = "enet-model"
# 3: the training profile for drift monitoring (profile.drift + drift_* arrays), optional
# stability selection frequencies; versions 1 and 2 load unchanged (no drift profile)
FORMAT_VERSION = 3
_MANIFEST = "model.json"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(doc: dict) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _array_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def _document(model: Model, files: dict[str, str]) -> dict:
    doc = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **model.to_json(),
           "files": files}
    doc["checksum"] = _sha256(_canonical(doc))
    return doc


def check_output_path(path: str | os.PathLike) -> str:
    """The absolute path a model may be written to, or ModelError saying why not.

    Only a previous model (or an empty directory) is ever replaced, never an
    unrelated file or directory.
    """
    if not os.fspath(path).strip():
        raise ModelError("the output path is empty; pass -o DIR")
    path = os.path.abspath(os.fspath(path))
    cwd = os.path.abspath(os.getcwd())
    if cwd == path or cwd.startswith(path.rstrip(os.sep) + os.sep):
        raise ModelError(f"{path} is the current directory or contains it; choose a new "
                         f"output path such as -o model/")
    if not os.path.exists(path):
        return path
    if path.endswith(".zip"):
        if os.path.isdir(path):
            raise ModelError(f"{path} is a directory; choose another output path")
        if not _is_model(path):
            raise ModelError(f"{path} exists and is not an enet model zip; choose another "
                             f"output path")
        return path
    if not os.path.isdir(path):
        raise ModelError(f"{path} exists and is not a directory; choose another output path")
    if os.listdir(path) and not _is_model(path):
        raise ModelError(f"{path} is a non-empty directory that is not an enet model (or "
                         f"holds other files too); choose a new output path")
    return path


def _is_model(path: str) -> bool:
    """An existing enet artifact holding nothing but its own files."""
    try:
        files = _list_files(path)
        if _MANIFEST not in files:
            return False
        doc = json.loads(_read_one(path, _MANIFEST))
        own = {_MANIFEST, *dict(doc.get("files", {}))}
        return doc.get("format") == FORMAT_NAME and set(files) <= own
    except (OSError, ValueError, AttributeError, zipfile.BadZipFile):
        return False


def save_model(model: Model, path: str | os.PathLike) -> str:
    """Write a model artifact atomically.

    Parameters
    ----------
    model : Model
    path : path
        Target directory, or a ``.zip`` file. An existing model there is replaced
        only once the new one is completely written.

    Returns
    -------
    str
        The sha256 of ``model.json`` (the artifact's identity).
    """
    path = check_output_path(path)
    try:
        return _write(model, path)
    except OSError as exc:
        raise ModelError(f"cannot write the model to {path}: {exc.strerror or exc}; check that "
                         f"the directory exists and is writable") from None


def _write(model: Model, path: str) -> str:
    # through a symbolic link: the model it points at is replaced, the link is kept
    path = os.path.realpath(path) if os.path.islink(path) else path
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    blobs = {f"arrays/{name}.npy": _array_bytes(arr)
             for name, arr in sorted(model.artifact_arrays().items())}
    doc = _document(model, {name: _sha256(b) for name, b in blobs.items()})
    manifest = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False).encode()
    blobs[_MANIFEST] = manifest
    if path.endswith(".zip"):
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=".tmp-model-", suffix=".zip")
        try:
            with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
                for name, data in blobs.items():
                    zf.writestr(name, data)
            public_mode(tmp, 0o666)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return _sha256(manifest)
    tmp = tempfile.mkdtemp(dir=parent, prefix=".tmp-model-")
    public_mode(tmp, 0o777)
    try:
        for name, data in blobs.items():
            target = os.path.join(tmp, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        if os.path.isdir(path):
            old = tempfile.mkdtemp(dir=parent, prefix=".old-model-")
            os.rmdir(old)
            os.rename(path, old)
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _sha256(manifest)


def _list_files(path: str) -> list[str]:
    if os.path.isdir(path):
        return [os.path.relpath(os.path.join(root, n), path).replace(os.sep, "/")
                for root, _, names in os.walk(path) for n in names]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return [n for n in zf.namelist() if not n.endswith("/")]
    raise ModelError(f"{path}: not a model directory or zip")


_MAX_FILE = 1 << 32   # a model file larger than 4 GiB is not one we wrote


def _read_one(path: str, name: str) -> bytes:
    if os.path.isdir(path):
        full = os.path.join(path, name)
        if not os.path.isfile(full) or os.path.getsize(full) > _MAX_FILE:
            raise ModelError(f"{path}: {name} is not a regular model file")
        with open(full, "rb") as fh:
            return fh.read()
    with zipfile.ZipFile(path) as zf:
        return zf.read(name)


def model_digest(path: str | os.PathLike) -> str:
    """sha256 of an artifact's ``model.json``, which itself holds every array's sha256:
    one digest that changes when any file of the artifact does."""
    path = os.fspath(path)
    try:
        return _sha256(_read_one(path, _MANIFEST))
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{path}: cannot read model.json ({exc})") from None


def load_model(path: str | os.PathLike) -> Model:
    """Load and verify a model artifact.

    Raises
    ------
    ModelError
        Missing path, unknown or newer format, or a checksum mismatch (the file
        was modified after it was written).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelError(f"{path}: no such model; train one with `enet train ... -o {path}`")
    names = set(_list_files(path))
    if _MANIFEST not in names:
        raise ModelError(f"{path}: not a model (no {_MANIFEST})")
    try:
        doc = json.loads(_read_one(path, _MANIFEST))
    except ValueError as exc:
        raise ModelError(f"{path}: {_MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ModelError(f"{path}: {_MANIFEST} is not a model description (not a JSON object)")
    if doc.get("format") != FORMAT_NAME:
        raise ModelError(f"{path}: not an enet model (format {doc.get('format')!r})")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelError(f"{path}: unknown model format version {version!r}; the file is "
                         f"damaged or not written by enet")
    if version > FORMAT_VERSION:
        raise ModelError(f"{path}: model format version {version} is newer than this enet "
                         f"understands ({FORMAT_VERSION}); upgrade enet")
    claimed = doc.pop("checksum", None)
    try:
        actual = _sha256(_canonical(doc))
    except ValueError:                       # NaN or infinity written into the JSON
        actual = None
    if claimed != actual:
        raise ModelError(f"{path}: {_MANIFEST} checksum mismatch: the file was modified after "
                         f"it was written; retrain or restore the original")
    arrays = {}
    listed = doc.get("files")
    if not isinstance(listed, dict) or not listed:
        raise ModelError(f"{path}: {_MANIFEST} lists no array files; the model is damaged")
    for name, digest in listed.items():
        if name not in names:
            raise ModelError(f"{path}: file {name} listed in {_MANIFEST} is missing")
        data = _read_one(path, name)
        if _sha256(data) != digest:
            raise ModelError(f"{path}: sha256 mismatch for {name}: the file was modified after "
                             f"it was written; retrain or restore the original")
        key = name.removeprefix("arrays/").removesuffix(".npy")
        arrays[key] = np.load(io.BytesIO(data), allow_pickle=False)
    try:
        model = Model.from_json(doc, arrays)
        model.validate()
        return model
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelError(f"{path}: {_MANIFEST} is malformed ({exc.__class__.__name__}: {exc}); "
                         f"retrain or restore the original") from None
