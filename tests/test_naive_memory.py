"""How the naive solver stores its path and histories: the same answers whatever the storage.

The path is written into a reserve (:mod:`enet.core._reserve`) and copied out block by block;
a path larger than the reserve grows the kernel's buffers instead. The extrapolation weights
come from a Gram matrix summed column by column instead of from a matrix of differences.
"""

import numpy as np
import scipy.sparse as sp

from enet.core import _reserve
from enet.core._cd_naive import _difference_gram
from enet.core.naive import path_from_arrays
from enet.core.path import enet_path


def test_trimmed_reserve_keeps_its_first_entries_across_copy_blocks():
    for dtype in (np.float64, np.int32):
        per_block = _reserve._COPY_BLOCK // np.dtype(dtype).itemsize
        n, keep = 4 * per_block, 3 * per_block + 17     # several blocks and a partial one
        buf = _reserve.reserve(n, dtype)
        buf[:keep] = np.arange(keep)
        out = _reserve.trimmed(buf, keep)
        assert out.dtype == dtype and out.shape == (keep,)
        np.testing.assert_array_equal(out, np.arange(keep))
        plain = np.empty(n, dtype)      # the fallback where no private mapping exists
        plain[:keep] = np.arange(keep)
        np.testing.assert_array_equal(_reserve.trimmed(plain, keep), np.arange(keep))


def test_path_past_the_reserve_equals_the_path_within_it(rng):
    # a sparse X with few stored values reserves room for 1024 path entries; a ridge-like
    # path over 60 features and 100 alphas needs nearly four times that, so the kernel grows
    # its buffers, while the dense copy of the same X reserves the whole path
    n, p = 50, 60
    X = sp.random(n, p, density=0.05, format="csr", random_state=rng,
                  data_rvs=rng.standard_normal)
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    kw = dict(l1_ratio=0.05, n_alphas=100, eps=1e-3, tol=1e-12)
    grown = path_from_arrays(X, y, **kw)
    within = path_from_arrays(X.toarray(), y, **kw)
    assert grown.coef.nnz > 2 * 1024 > 4 * X.nnz     # grown more than once
    assert grown.coef.has_canonical_format and grown.coef.indices.dtype == np.int32
    dense = grown.coef.toarray()
    assert np.max(np.abs(dense - within.coef)) <= 1e-9 * np.max(np.abs(within.coef))
    np.testing.assert_allclose(grown.intercept, within.intercept, rtol=1e-9, atol=1e-12)
    # an independent reference: the covariance solver on the Gram matrix
    cov = enet_path(X.toarray(), y, **kw)
    assert np.max(np.abs(dense - cov.coef)) <= 1e-7 * np.max(np.abs(cov.coef))


def test_path_arrays_hold_no_slack(rng):
    n, p = 80, 400
    X = sp.random(n, p, density=0.1, format="csc", random_state=rng,
                  data_rvs=rng.standard_normal)
    y = X @ np.r_[rng.standard_normal(10), np.zeros(p - 10)] + 0.1 * rng.standard_normal(n)
    res = path_from_arrays(X, y, l1_ratio=0.5, n_alphas=30, standardize=False)
    for arr in (res.coef.data, res.coef.indices):
        owner = arr if arr.base is None else arr.base
        assert owner.nbytes == arr.nbytes


def test_difference_gram_matches_the_matrix_of_differences(rng):
    H = rng.standard_normal((6, 37))
    U = np.diff(H, axis=0)
    np.testing.assert_allclose(_difference_gram(H, np.zeros((6, 2)), np.empty(0)), U @ U.T,
                               rtol=1e-13, atol=1e-13)
    # weighted residuals: the true residual, in the W norm, is v / sqrt(w) + sqrt(w) o,
    # and rows of weight 0 do not count
    w = rng.uniform(0.1, 2.0, 37)
    w[[3, 20]] = 0.0
    Hs = rng.standard_normal((6, 2))
    R = np.where(w > 0, H / np.sqrt(np.where(w > 0, w, 1.0)) + np.sqrt(w) * Hs[:, :1], 0.0)
    U = np.diff(R, axis=0)
    np.testing.assert_allclose(_difference_gram(H, Hs, w), U @ U.T, rtol=1e-12, atol=1e-12)
