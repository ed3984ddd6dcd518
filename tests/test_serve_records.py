"""The service's direct record encoder against the shared table path (Encoder).

For every input the direct path handles, the feature matrix, the counts and the
predictions must equal those of ``Model.predict``'s path on the same columns;
everything else must fail (or succeed) exactly as that path does.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import enet
from enet.data.encode import ScoreCounts
from enet.data.records import RecordEncoder
from enet.exceptions import DataError


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({"x": rng.standard_normal(n), "b": rng.random(n) < .5,
                       "c": rng.choice(["a", "b", "c", "r1", "r2", "r3", "r4"], n,
                                       p=[.3, .3, .3, .025, .025, .025, .025]),
                       "k": rng.choice([1, 2, 3], n), "z": rng.standard_normal(n)})
    df.loc[::7, "x"] = np.nan
    df.loc[::11, "c"] = None
    df["y"] = 2 * df.x.fillna(0) + df.b + (df.c == "a") + df.k + df.z + rng.standard_normal(n)
    return enet.train_model(df, target="y", categorical=["k"], na_values=["-999"],
                            min_frequency=20)


@pytest.fixture(scope="module")
def plain_model():
    """No missing values, indicators, pooled levels or markers in training."""
    rng = np.random.default_rng(1)
    n = 200
    df = pd.DataFrame({"x": rng.standard_normal(n), "c": rng.choice(["u", "v"], n)})
    df["y"] = df.x + (df.c == "u") + 0.1 * rng.standard_normal(n)
    return enet.train_model(df, target="y")


def _outcome(fn):
    counts = ScoreCounts()
    try:
        X = fn(counts)
    except DataError as exc:
        return ("error", str(exc), exc.kind, exc.column, exc.row)
    return ("ok", X, counts.to_json())


def _same(a, b) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == "error":
        return a == b
    return a[1].shape == b[1].shape and np.array_equal(a[1], b[1]) and a[2] == b[2]


def _check(model, columns: dict, strict: bool = False) -> bool:
    """Assert both paths agree; return whether the direct path handled the input."""
    enc = RecordEncoder(model.encoder())
    n = len(next(iter(columns.values()))) if columns else 0
    fast = _outcome(lambda c: enc.encode(columns, n, strict, c))
    ref = _outcome(lambda c: enc.reference(columns, strict, c))
    assert _same(fast, ref), (columns, fast, ref)
    if fast[0] == "ok":        # the shared path is also what Model.predict runs
        pred = model.predict(columns, strict=strict)
        np.testing.assert_array_equal(model.predict_matrix(fast[1]), pred)
    return enc.direct(columns, n, strict) is not None


GOOD = [
    {"x": [1.5], "b": [True], "c": ["a"], "k": [1], "z": [0.25]},
    {"x": [1], "b": [1], "c": ["b"], "k": [2], "z": [-3]},
    {"x": [None], "b": [None], "c": [None], "k": [None], "z": [None]},       # all missing
    {"x": [-999], "b": [0.0], "c": ["-999"], "k": [3], "z": [1.0]},          # the marker
    {"x": [-999.0, 2.0], "b": [False, True], "c": ["r1", "zz"], "k": [1, 7], "z": [1, 2]},
    {"x": [float("nan")], "b": [1], "c": [""], "k": [None], "z": [0]},       # NaN = missing
    {"x": [2.0], "b": [1], "c": ["a"], "k": [1], "z": [0], "extra": ["q"], "more": [1]},
    {"k": [3], "z": [0], "c": ["c"], "b": [0], "x": [0]},                     # any order
    {"x": [1e300, -1e300], "b": [0, 1], "c": ["a", "b"], "k": [-5, 2], "z": [0.5, 0.5]},
    {"x": [2 ** 53], "b": [1], "c": ["a"], "k": [2], "z": [0]},
]

BAD_OR_DEFERRED = [
    {"x": ["1.5"], "b": [1], "c": ["a"], "k": [1], "z": [0]},                 # numeric text
    {"x": ["abc"], "b": [1], "c": ["a"], "k": [1], "z": [0]},                 # not a number
    {"x": [" 1.5"], "b": [1], "c": ["a"], "k": [1], "z": [0]},
    {"x": [1.0, "abc"], "b": [1, 1], "c": ["a", "a"], "k": [1, 1], "z": [0, 0]},   # mixed
    {"x": [True, 1.0], "b": [1, 1], "c": ["a", "a"], "k": [1, 1], "z": [0, 0]},
    {"x": [1.0], "b": [2], "c": ["a"], "k": [1], "z": [0]},                   # not boolean
    {"x": [1.0], "b": ["true"], "c": ["a"], "k": [1], "z": [0]},
    {"x": [float("inf")], "b": [1], "c": ["a"], "k": [1], "z": [0]},          # infinite
    {"x": [1.0], "b": [1], "c": ["a"], "k": [1], "z": [float("-inf")]},
    {"x": ["inf"], "b": [1], "c": ["a"], "k": [1], "z": [0]},
    {"x": [2 ** 60], "b": [1], "c": ["a"], "k": [1], "z": [0]},               # inexact int
    {"x": [[1]], "b": [1], "c": ["a"], "k": [1], "z": [0]},                   # nested
    {"x": [{"v": 1}], "b": [1], "c": ["a"], "k": [1], "z": [0]},
    {"x": [1.0], "b": [1], "c": [3.5], "k": [True], "z": [0]},                # Arrow spellings
    {"x": [1.0], "b": [1], "c": [True], "k": ["1.0"], "z": [0]},
    {"x": [1.0], "b": [1], "c": ["a", 3], "k": [1, 1], "z": [0]},             # ragged
    {"x": [1.0, 2.0], "b": [1, 1], "c": ["a", 3], "k": [1, 1], "z": [0, 0]},  # mixed text
    {"x": [1.0], "c": ["a"], "z": [0]},                                       # missing cols
    {"x": [1.0], "b": [1], "c": ["a"], "k": [1], "z": [0], " x": [2.0]},      # stripped name
    {"x": [1.0], "b": [1], "c": ["a"], "k": [" 2"], "z": [0]},                # code text
]


def test_direct_path_handles_the_common_cases(model):
    for columns in GOOD:
        assert _check(model, columns), columns


def test_other_cases_fail_or_score_exactly_as_the_table_path(model):
    outcomes = [_check(model, columns) for columns in BAD_OR_DEFERRED]
    assert not any(outcomes)                 # each of these goes through the shared path


def test_strict_mode_agrees(model):
    for columns in GOOD + BAD_OR_DEFERRED:
        _check(model, columns, strict=True)
    assert _check(model, GOOD[0], strict=True)
    assert not _check(model, GOOD[6], strict=True)        # extra columns are errors


def test_plain_model_without_other_or_missing_levels(plain_model):
    assert _check(plain_model, {"x": [1.0, None], "c": ["u", "new"]})
    assert _check(plain_model, {"x": [0.0], "c": [None]})
    _check(plain_model, {"x": [0.0], "c": ["new"]}, strict=True)


def test_random_records_agree(model, rng):
    """Random mixes of valid and odd values, column by column."""
    pools = {
        "x": [1.5, -2, 0, None, 3, float("nan"), -999, -999.0, 1e-300, "1.5", "abc", True,
              float("inf"), 2 ** 60, [1]],
        "b": [True, False, None, 0, 1, 1.0, 0.0, 2, "true", -999],
        "c": ["a", "b", "c", "r1", "r3", "zz", "", None, "-999", 3, 3.5, True, "A"],
        "k": [1, 2, 3, 4, -1, None, "1", "1.0", " 2", "x", 1.0, False],
        "z": [0.5, -1, 10, None, 2 ** 53, 1e308],
    }
    direct = 0
    for trial in range(300):
        n = int(rng.integers(1, 5))
        odd = rng.random() < 0.5          # otherwise the first (valid) half of each pool
        columns = {}
        for name, pool in pools.items():
            if rng.random() < 0.03:
                continue                  # a missing column now and then
            choices = pool if odd else pool[:max(3, len(pool) // 2)]
            columns[name] = [choices[i] for i in rng.integers(0, len(choices), n)]
        if rng.random() < 0.1:
            columns["extra"] = [1] * n
        direct += _check(model, columns, strict=bool(rng.random() < 0.2))
    assert direct > 50                       # the direct path is exercised, not bypassed


def test_counts_accumulate_over_requests(model):
    enc = RecordEncoder(model.encoder())
    counts, expected = ScoreCounts(), ScoreCounts()
    for columns in itertools.islice(itertools.cycle(GOOD), 12):
        n = len(columns["x"])
        enc.encode(columns, n, counts=counts)
        enc.reference(columns, counts=expected)
    assert counts.to_json() == expected.to_json()
    assert counts.missing and counts.unseen and counts.extra_columns
