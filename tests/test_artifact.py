"""Model artifact: round trip, checksums, format version, atomic writes, no pickle."""

import json
import os

import numpy as np
import pytest

from enet.artifact import FORMAT_VERSION, load_model, save_model
from enet.exceptions import ModelError
from enet.train import TrainConfig, build_model
from enet.core.stats import FoldAccumulator
from enet.core.cv import kfold_ids
from enet.data.manifest import FeatureManifest, InputColumn


@pytest.fixture
def model(rng):
    X = rng.standard_normal((120, 4))
    y = X @ [1.0, 0.0, -2.0, 0.5] + rng.standard_normal(120)
    acc = FoldAccumulator(4, 3)
    acc.update(X, y, None, kfold_ids(0, 120, 3, 0))
    manifest = FeatureManifest([InputColumn(c, "numeric") for c in "abcd"], "y")
    return build_model(acc.folds(), manifest, TrainConfig(target="y", folds=3, n_alphas=10),
                       {"n_rows": 120}, {"note": "test"})


def test_round_trip_directory_and_zip(model, tmp_path):
    for target in (tmp_path / "m", tmp_path / "m.zip"):
        save_model(model, target)
        back = load_model(target)
        np.testing.assert_array_equal(back.coef, model.coef)
        assert back.intercept == model.intercept and back.alpha == model.alpha
        assert back.features == ["a", "b", "c", "d"]
        for k, v in model.arrays.items():
            np.testing.assert_array_equal(back.arrays[k], v)
        X = np.arange(8.0).reshape(2, 4)
        np.testing.assert_array_equal(back.predict_matrix(X), model.predict_matrix(X))


def test_arrays_are_plain_npy_without_pickle(model, tmp_path):
    save_model(model, tmp_path / "m")
    for name in os.listdir(tmp_path / "m" / "arrays"):
        np.load(tmp_path / "m" / "arrays" / name, allow_pickle=False)


def test_modified_array_is_refused(model, tmp_path):
    save_model(model, tmp_path / "m")
    path = tmp_path / "m" / "arrays" / "path_coef.npy"
    arr = np.load(path)
    arr[0, 0] += 1.0
    np.save(path, arr)
    with pytest.raises(ModelError, match="sha256 mismatch for arrays/path_coef.npy"):
        load_model(tmp_path / "m")


def test_modified_json_is_refused(model, tmp_path):
    save_model(model, tmp_path / "m")
    doc = json.loads((tmp_path / "m" / "model.json").read_text())
    doc["intercept"] += 1.0
    (tmp_path / "m" / "model.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="checksum mismatch"):
        load_model(tmp_path / "m")


def test_newer_format_version_is_refused_clearly(model, tmp_path):
    import hashlib

    save_model(model, tmp_path / "m")
    doc = json.loads((tmp_path / "m" / "model.json").read_text())
    doc.pop("checksum")
    doc["format_version"] = FORMAT_VERSION + 1
    canon = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    doc["checksum"] = hashlib.sha256(canon).hexdigest()
    (tmp_path / "m" / "model.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="newer than this enet understands"):
        load_model(tmp_path / "m")


def test_failed_write_leaves_previous_model_intact(model, tmp_path, monkeypatch):
    save_model(model, tmp_path / "m")
    before = (tmp_path / "m" / "model.json").read_bytes()
    calls = {"n": 0}
    real_fsync = os.fsync

    def failing_fsync(fd):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(ModelError, match="cannot write the model .* disk full"):
        save_model(model, tmp_path / "m")
    assert (tmp_path / "m" / "model.json").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m"]          # no temporary left behind


def test_missing_model_message(tmp_path):
    with pytest.raises(ModelError, match="no such model"):
        load_model(tmp_path / "nope")


def test_never_replaces_an_unrelated_directory(model, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "precious.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ModelError, match="not an enet model"):
        save_model(model, tmp_path / "data")
    assert (tmp_path / "data" / "precious.csv").exists()
    with pytest.raises(ModelError, match="output path is empty"):
        save_model(model, "")
    (tmp_path / "empty").mkdir()
    save_model(model, tmp_path / "empty")          # an empty directory is fine
    assert load_model(tmp_path / "empty").alpha == model.alpha
