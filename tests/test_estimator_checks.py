"""The scikit-learn estimator contract."""

from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from enet import ElasticNet, ElasticNetCV


# One check is skipped by scikit-learn itself: check_array_api_input runs only when
# SCIPY_ARRAY_API=1, and enet's core takes numpy arrays (array API inputs are converted).
@parametrize_with_checks([ElasticNet(), ElasticNetCV(n_alphas=10)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_usable_in_a_pipeline():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), ElasticNetCV(l1_ratio=[0.5, 1.0], n_alphas=20))
    assert pipe.fit(X, y).score(X, y) > 0.45
