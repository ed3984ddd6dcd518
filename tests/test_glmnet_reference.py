"""Agreement with R glmnet on reference cases made by tests/reference/glmnet/make_reference.R."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from enet import ElasticNet
from kkt import kkt_violation

HERE = os.path.join(os.path.dirname(__file__), "reference", "glmnet")
CASES = json.load(open(os.path.join(HERE, "cases.json")))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_matches_glmnet(case):
    df = pd.read_csv(os.path.join(HERE, case["data"]))
    X = df[case["features"]].to_numpy(float)
    y = df[case["target"]].to_numpy(float)
    w = df[case["weight"]].to_numpy(float) if case["weight"] else None
    params = dict(alpha=case["alpha"], l1_ratio=case["l1_ratio"],
                  standardize=case["standardize"], fit_intercept=case["fit_intercept"],
                  penalty_factor=case["penalty_factor"], lower_bounds=case["lower_bounds"],
                  upper_bounds=case["upper_bounds"])
    m = ElasticNet(tol=1e-13, **params).fit(X, y, sample_weight=w)
    ref = np.array(case["coef"])
    # compare on the standardised scale relative to sd(y): features differ by 1e7 in scale
    sd_x = np.sqrt(np.cov(X, rowvar=False, aweights=w, bias=True).diagonal())
    sd_y = np.sqrt(np.cov(y, aweights=w, bias=True))
    assert np.max(np.abs(m.coef_ - ref) * sd_x) / sd_y < 1e-6
    assert abs(m.intercept_ - case["intercept"]) < 1e-6 * max(1.0, abs(case["intercept"]))
    assert np.array_equal(m.coef_ == 0, ref == 0)
    kkt_params = {k: v for k, v in params.items() if k not in ("alpha", "l1_ratio")}
    assert kkt_violation(X, y, m.coef_, m.intercept_, case["alpha"], case["l1_ratio"],
                         sample_weight=w, **kkt_params) < 1e-7
