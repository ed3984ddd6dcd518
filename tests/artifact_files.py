"""Comparing model directories file by file (reproducibility tests)."""

from __future__ import annotations

import os

#: lineage fields that honestly depend on the clock
TIME_FIELDS = ("created",)


def model_files(directory) -> dict[str, bytes]:
    """Every file under ``directory`` (relative path -> contents)."""
    out = {}
    for root, _, names in os.walk(directory):
        for name in names:
            with open(os.path.join(root, name), "rb") as fh:
                out[os.path.relpath(os.path.join(root, name), directory)] = fh.read()
    return out


def without_time(doc: dict) -> dict:
    """A model.json document without its creation time and the checksum covering it."""
    doc = dict(doc, lineage=dict(doc["lineage"]))
    doc.pop("checksum")
    for name in TIME_FIELDS:
        doc["lineage"].pop(name)
    return doc


def assert_same_but_time(first, second) -> dict:
    """Two model directories hold the same files with the same bytes, except model.json,
    which may differ only in :data:`TIME_FIELDS`. Returns the first's model.json."""
    import json

    one, two = model_files(first), model_files(second)
    assert sorted(one) == sorted(two)
    assert any("drift_points" in name for name in one)
    differing = [name for name in one if one[name] != two[name]]
    assert set(differing) <= {"model.json"}, differing
    a, b = (json.loads(files["model.json"]) for files in (one, two))
    assert without_time(a) == without_time(b)
    return a
