"""The naive solver's path in the dense form the comparisons in the tests use."""

import dataclasses

import numpy as np
import scipy.sparse as sp

from enet.core.naive import path_from_arrays


def dense_naive_path(X, y, **kw):
    """The naive path, densified for comparisons: sparse X gives a sparse (CSR) path."""
    res = path_from_arrays(X, y, **kw)
    assert sp.issparse(res.coef) == sp.issparse(X) == sp.issparse(res.coef_std)
    if not sp.issparse(X):
        return res
    for k in list(range(len(res.alphas))) + [-1]:
        np.testing.assert_array_equal(res.coef_at(k), res.coef.toarray()[k])
    same = res.coef_std is res.coef
    coef = res.coef.toarray()
    return dataclasses.replace(res, coef=coef, coef_std=coef if same else res.coef_std.toarray())
