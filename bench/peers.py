"""One adapter per (library, task); every adapter solves the same problem.

The problem (see ``bench/objective.py``): intercept, no standardisation,

    1/(2n) ||y - b0 - X b||^2 + alpha (l1_ratio ||b||_1 + (1 - l1_ratio)/2 ||b||^2)

Tasks
    T1  one fit at alpha = 0.01 alpha_max(0.5), l1_ratio 0.5
    T2  100 alphas, alpha_max(0.5) -> 1e-3 alpha_max(0.5) (geometric), l1_ratio 0.5
    T3  5-fold CV, folds from ``enet.core.cv.kfold_ids(0, n, 5, 0)`` passed to everybody as
        (train, test) index pairs; l1_ratio in {0.1, 0.5, 0.9, 1.0}, for each the 100-alpha
        grid from that l1_ratio's alpha_max down to 1e-3 of it.

Every adapter returns a dict with ``alphas`` (k,), ``l1_ratio``, ``intercepts`` (k,) and
``coefs`` (k, p) of the solution(s) it produced (for T3: the final refit at the selected
point, plus ``alpha_sel`` / ``l1_ratio_sel``), and ``notes`` (list of str).

Scaling of each library's objective relative to the shared one (checked numerically with
``bench/objective.py``; see bench/README.md):
    enet, scikit-learn, celer, skglm: identical (1/(2n) loss, alpha * (r |b|_1 + (1-r)/2 |b|^2)).
    glum (family normal): identical; sample weights are normalised to sum 1, and the deviance
        of the normal family is the sum of squares, so the loss is 1/(2n) ||r||^2.
    python-glmnet (Fortran glmnet): divides y by its (population, weight-normalised) sd s
        internally and penalises the coefficients of y/s, which rescales the L2 part. The problem
        it solves for (glmnet alpha g, lambda l) is 1/(2n)||r||^2 + l (g |b|_1 + (1-g)/(2 s) |b|^2),
        so (alpha, r) maps to g = r/k, l = alpha k with k = r + (1 - r) s.
        In CV, s is the sd of each training fold's y, so k is computed per fold.

Libraries whose CV class cannot take our folds and per-l1_ratio grids (skglm: int cv only, one
grid for all l1_ratios, alpha_max of uncentred data; python-glmnet: one l1_ratio per fit and a
fold-dependent y scale; celer: its ElasticNetCV is a thin subclass of scikit-learn's) run
the same CV through ``manual_cv`` below: a warm-started path per (l1_ratio, fold) with the
library's own solver, serial, then a refit along the selected l1_ratio's grid.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from objective import alpha_grid

L1_RATIOS = (0.1, 0.5, 0.9, 1.0)
T1_L1_RATIO = 0.5
T1_FRACTION = 0.01
N_ALPHAS = 100
EPS = 1e-3
N_FOLDS = 5

PEERS = ["enet", "sklearn", "sklearn-gram", "glum", "celer", "skglm", "glmnet"]
TASKS = ["T1", "T2", "T3"]

# Tolerance of each peer: the loosest power of ten whose relative objective gap along the T2 path
# stayed <= ~1e-7 on R1 and the small D1 / D2 (the wide D2 is the hardest; numbers below).
# Their meaning differs by library:
#   enet          relative duality gap
#   sklearn       duality gap <= tol * ||y - ybar||^2 (n-scaled objective)
#   glum          gradient_tol: max |gradient| of the (1/n-scaled) objective, inner CD and outer
#   celer         duality gap <= tol * ||y||^2 / n
#   skglm         max distance of -gradient to the subdifferential (KKT violation)
#   glmnet        max weighted squared coefficient change <= thr * null deviance
TOLS = {
    "enet": 1e-7,          # D2-small path: 1.6e-12
    "sklearn": 1e-6,       # D2-small path: 6e-9 (1e-5 gives 6.5e-7)
    "sklearn-gram": 1e-6,
    "glum": 1e-5,          # D2-small path: 2.9e-9 (1e-4 gives 3e-7)
    "celer": 1e-7,         # D2-small path: 1.4e-10 (1e-6 gives 5.6e-5)
    "skglm": 1e-6,         # D2-small path: 3e-8 (1e-5 gives 1.5e-6)
    "glmnet": 1e-13,       # D2-small path: 8.7e-8 (1e-12 gives 7.6e-7)
}
# enet where it runs the naive solver (wide or sparse X, ``enet.core.naive.choose_solver``): its
# step rule (no coefficient moved by more than tol * max|b|) makes 1e-6 reach 1.5e-8 on D2,
# 4.3e-8 on D3 and 4.6e-8 on the small D2 (bench/results_naive.md)
ENET_NAIVE_TOL = 1e-6
REF_TOL = 1e-12   # the tight enet run that defines the reference objective
MAX_ITER = 100_000


# ---------------------------------------------------------------------------------------------
# the problem every library solves
# ---------------------------------------------------------------------------------------------
def make_problem(X, y) -> dict:
    """Grids and folds of the three tasks (deterministic, computed outside any timing)."""
    from enet.core.cv import kfold_ids
    n = X.shape[0]
    grids = {r: alpha_grid(X, y, r, N_ALPHAS, EPS) for r in L1_RATIOS}
    fold = kfold_ids(0, n, N_FOLDS, 0)
    splits = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(N_FOLDS)]
    return {
        "alpha": T1_FRACTION * grids[T1_L1_RATIO][0],
        "l1_ratio": T1_L1_RATIO,
        "grid": grids[T1_L1_RATIO],
        "grids": grids,
        "ratios": list(L1_RATIOS),
        "splits": splits,
    }


def _means(X, y):
    xbar = np.asarray(X.mean(axis=0)).ravel()
    return xbar, float(np.mean(y))


def _centred_or_offset(X, y):
    """Dense: centred copies. Sparse: X unchanged plus its column means (libraries take them)."""
    xbar, ybar = _means(X, y)
    if sp.issparse(X):
        return X, y - ybar, xbar, ybar
    return X - xbar, y - ybar, xbar, ybar


def _out(alphas, r, intercepts, coefs, notes=(), **extra) -> dict:
    coefs = coefs.toarray() if hasattr(coefs, "toarray") else coefs    # a sparse path
    coefs = np.atleast_2d(np.asarray(coefs, dtype=np.float64))
    return dict(alphas=np.asarray(alphas, dtype=np.float64).ravel(), l1_ratio=float(r),
                intercepts=np.asarray(intercepts, dtype=np.float64).ravel(), coefs=coefs,
                notes=list(notes), **extra)


def _select(mse: np.ndarray):
    """(l1_ratio index, alpha index) of the smallest mean held-out MSE (first on ties)."""
    li, ai = np.unravel_index(int(np.argmin(mse)), mse.shape)
    return int(li), int(ai)


def manual_cv(path_fn, X, y, prob, tol) -> dict:
    """CV with a library's own path solver: same folds, same grids, same selection rule."""
    ratios, splits = prob["ratios"], prob["splits"]
    mse = np.zeros((len(ratios), N_ALPHAS))
    for li, r in enumerate(ratios):
        grid = prob["grids"][r]
        for train, test in splits:
            b0, B = path_fn(X[train], y[train], r, grid, tol)
            pred = np.asarray(X[test] @ B.T) + b0[None, :]
            mse[li] += ((y[test][:, None] - pred) ** 2).mean(axis=0) / len(splits)
    li, ai = _select(mse)
    r = ratios[li]
    grid = prob["grids"][r][: ai + 1]
    b0, B = path_fn(X, y, r, grid, tol)
    return _out(grid[-1:], r, b0[-1:], B[-1:], alpha_sel=float(grid[-1]), l1_ratio_sel=float(r))


# ---------------------------------------------------------------------------------------------
# enet
# ---------------------------------------------------------------------------------------------
def _enet_tol(X, tol):
    """The suite's tolerance for the solver enet will choose for X (unless one was given)."""
    from enet.core.naive import choose_solver
    n, p = X.shape
    nnz = X.nnz if sp.issparse(X) else n * p
    naive = choose_solver(n, p, nnz / max(n * p, 1)) == "naive"
    return ENET_NAIVE_TOL if naive and tol == TOLS["enet"] else tol


def enet_fit(task, X, y, prob, tol):
    import enet
    tol = _enet_tol(X, tol)
    if task == "T1":
        m = enet.ElasticNet(alpha=prob["alpha"], l1_ratio=prob["l1_ratio"], standardize=False,
                            tol=tol, max_iter=MAX_ITER).fit(X, y)
        return _out([prob["alpha"]], prob["l1_ratio"], [m.intercept_], [m.coef_], tol=tol)
    if task == "T2":
        from enet.core.naive import solve_path     # covariance or naive, chosen from X
        res = solve_path(X, y, l1_ratio=prob["l1_ratio"], alphas=prob["grid"],
                         standardize=False, tol=tol, max_iter=MAX_ITER)
        return _out(res.alphas, prob["l1_ratio"], res.intercept, res.coef, tol=tol)
    grids = np.vstack([prob["grids"][r] for r in prob["ratios"]])
    m = enet.ElasticNetCV(l1_ratio=prob["ratios"], alphas=grids, cv=prob["splits"],
                          standardize=False, tol=tol, max_iter=MAX_ITER).fit(X, y)
    return _out([m.alpha_], m.l1_ratio_, [m.intercept_], [m.coef_], alpha_sel=m.alpha_,
                l1_ratio_sel=m.l1_ratio_, tol=tol)


# ---------------------------------------------------------------------------------------------
# scikit-learn (precompute=False: "sklearn"; precompute=True: "sklearn-gram")
# ---------------------------------------------------------------------------------------------
def _sklearn(task, X, y, prob, tol, precompute):
    from sklearn.linear_model import ElasticNet, ElasticNetCV, enet_path
    r = prob["l1_ratio"]
    if task == "T1":
        m = ElasticNet(alpha=prob["alpha"], l1_ratio=r, tol=tol, max_iter=MAX_ITER,
                       precompute=precompute).fit(X, y)
        return _out([prob["alpha"]], r, [m.intercept_], [m.coef_])
    if task == "T2":
        Xc, yc, xbar, ybar = _centred_or_offset(X, y)
        extra = {}
        if sp.issparse(X):
            extra = dict(X_offset=xbar, X_scale=np.ones_like(xbar))
        _, coefs, _ = enet_path(Xc, yc, l1_ratio=r, alphas=prob["grid"], tol=tol,
                                max_iter=MAX_ITER, precompute=precompute, **extra)
        coefs = coefs.T
        return _out(prob["grid"], r, ybar - coefs @ xbar, coefs)
    m = ElasticNetCV(l1_ratio=prob["ratios"], alphas=N_ALPHAS, eps=EPS, cv=prob["splits"],
                     n_jobs=2, tol=tol, max_iter=MAX_ITER, precompute=precompute).fit(X, y)
    ours = np.vstack([prob["grids"][q] for q in prob["ratios"]])
    dev = float(np.max(np.abs(m.alphas_ / ours - 1.0)))
    notes = [] if dev < 1e-10 else [f"alpha grid differs from ours by {dev:.1e} (relative)"]
    return _out([m.alpha_], m.l1_ratio_, [m.intercept_], [m.coef_], notes,
                alpha_sel=float(m.alpha_), l1_ratio_sel=float(m.l1_ratio_))


def sklearn_fit(task, X, y, prob, tol):
    return _sklearn(task, X, y, prob, tol, precompute=False)


def sklearn_gram_fit(task, X, y, prob, tol):
    return _sklearn(task, X, y, prob, tol, precompute=True)


# ---------------------------------------------------------------------------------------------
# glum
# ---------------------------------------------------------------------------------------------
def glum_fit(task, X, y, prob, tol):
    from glum import GeneralizedLinearRegressor, GeneralizedLinearRegressorCV
    common = dict(family="normal", fit_intercept=True, gradient_tol=tol, max_iter=1000,
                  scale_predictors=False)
    r = prob["l1_ratio"]
    if task == "T1":
        m = GeneralizedLinearRegressor(alpha=prob["alpha"], l1_ratio=r, **common).fit(X, y)
        return _out([prob["alpha"]], r, [m.intercept_], [m.coef_])
    if task == "T2":
        m = GeneralizedLinearRegressor(alpha_search=True, alphas=prob["grid"], l1_ratio=r,
                                       **common).fit(X, y)
        return _out(prob["grid"], r, np.ravel(m.intercept_path_), m.coef_path_)
    m = GeneralizedLinearRegressorCV(l1_ratio=prob["ratios"], n_alphas=N_ALPHAS,
                                     min_alpha_ratio=EPS, cv=prob["splits"], n_jobs=2,
                                     **common).fit(X, y)
    ours = np.vstack([prob["grids"][q] for q in prob["ratios"]])
    dev = float(np.max(np.abs(np.asarray(m.alphas_) / ours - 1.0)))
    notes = [] if dev < 1e-10 else [f"alpha grid differs from ours by {dev:.1e} (relative)"]
    return _out([m.alpha_], m.l1_ratio_, [m.intercept_], [m.coef_], notes,
                alpha_sel=float(m.alpha_), l1_ratio_sel=float(m.l1_ratio_))


# ---------------------------------------------------------------------------------------------
# celer
# ---------------------------------------------------------------------------------------------
def _celer_path(X, y, r, grid, tol):
    from celer import celer_path
    Xc, yc, xbar, ybar = _centred_or_offset(X, y)
    extra = dict(X_offset=xbar, X_scale=np.ones_like(xbar)) if sp.issparse(X) else {}
    _, coefs, _ = celer_path(Xc, yc, "lasso", alphas=grid, l1_ratio=r, tol=tol,
                             max_iter=MAX_ITER, prune=True, **extra)
    coefs = np.asarray(coefs).T
    return ybar - coefs @ xbar, coefs


def celer_fit(task, X, y, prob, tol):
    import celer
    r = prob["l1_ratio"]
    if task == "T1":
        m = celer.ElasticNet(alpha=prob["alpha"], l1_ratio=r, tol=tol, max_iter=MAX_ITER,
                             fit_intercept=True).fit(X, y)
        return _out([prob["alpha"]], r, [m.intercept_], [m.coef_])
    if task == "T2":
        b0, B = _celer_path(X, y, r, prob["grid"], tol)
        return _out(prob["grid"], r, b0, B)
    return manual_cv(_celer_path, X, y, prob, tol)


# ---------------------------------------------------------------------------------------------
# skglm
# ---------------------------------------------------------------------------------------------
def _skglm_path(X, y, r, grid, tol):
    import skglm
    m = skglm.ElasticNet(alpha=grid[0], l1_ratio=r, tol=tol, fit_intercept=True,
                         warm_start=True, max_iter=1000)
    b0, B = np.empty(len(grid)), np.empty((len(grid), X.shape[1]))
    for k, a in enumerate(grid):
        m.set_params(alpha=a)
        m.fit(X, y)
        b0[k], B[k] = m.intercept_, m.coef_
    return b0, B


def skglm_fit(task, X, y, prob, tol):
    import skglm
    r = prob["l1_ratio"]
    if task == "T1":
        m = skglm.ElasticNet(alpha=prob["alpha"], l1_ratio=r, tol=tol, fit_intercept=True,
                             max_iter=1000).fit(X, y)
        return _out([prob["alpha"]], r, [m.intercept_], [m.coef_])
    if task == "T2":
        b0, B = _skglm_path(X, y, r, prob["grid"], tol)
        return _out(prob["grid"], r, b0, B)
    return manual_cv(_skglm_path, X, y, prob, tol)


# ---------------------------------------------------------------------------------------------
# python-glmnet (Fortran glmnet)
# ---------------------------------------------------------------------------------------------
def glmnet_mapping(y, r: float):
    """(glmnet alpha, k): glmnet lambda = alpha * k for our (alpha, r); see module docstring."""
    s = float(np.std(y))          # population sd: glmnet normalises the weights to sum 1
    k = r + (1.0 - r) * s
    return r / k, k


def _glmnet_path(X, y, r, grid, tol):
    from glmnet import ElasticNet
    g, k = glmnet_mapping(y, r)
    m = ElasticNet(alpha=g, lambda_path=np.asarray(grid) * k, standardize=False,
                   fit_intercept=True, tol=tol, n_splits=0, max_iter=MAX_ITER,
                   max_features=X.shape[1])
    m.fit(X, y)
    B = np.asarray(m.coef_path_).T              # (k, p)
    b0 = np.ravel(m.intercept_path_)
    if B.shape[0] != len(grid):
        raise RuntimeError(f"glmnet returned {B.shape[0]} of {len(grid)} path points")
    return b0, B


def glmnet_fit(task, X, y, prob, tol):
    r = prob["l1_ratio"]
    if task == "T1":
        b0, B = _glmnet_path(X, y, r, np.array([prob["alpha"]]), tol)
        return _out([prob["alpha"]], r, b0, B)
    if task == "T2":
        b0, B = _glmnet_path(X, y, r, prob["grid"], tol)
        return _out(prob["grid"], r, b0, B)
    return manual_cv(_glmnet_path, X, y, prob, tol)


ADAPTERS = {
    "enet": enet_fit,
    "sklearn": sklearn_fit,
    "sklearn-gram": sklearn_gram_fit,
    "glum": glum_fit,
    "celer": celer_fit,
    "skglm": skglm_fit,
    "glmnet": glmnet_fit,
}

MODULES = {"enet": "enet", "sklearn": "sklearn", "sklearn-gram": "sklearn", "glum": "glum",
           "celer": "celer", "skglm": "skglm", "glmnet": "glmnet"}


def version(peer: str) -> str:
    import importlib
    import importlib.metadata as md
    mod = MODULES[peer]
    try:
        importlib.import_module(mod)
    except Exception as exc:  # noqa: BLE001
        return f"not importable ({type(exc).__name__}: {exc})"
    dist = {"sklearn": "scikit-learn", "glmnet": "python-glmnet"}.get(mod, mod)
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "?"


def fit(peer: str, task: str, X, y, prob: dict, tol: float | None = None) -> dict:
    """Run one adapter; warnings are collected into ``notes`` (counted by category)."""
    tol = TOLS[peer] if tol is None else tol
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = ADAPTERS[peer](task, X, y, prob, tol)
    counts: dict[str, int] = {}
    for w in caught:
        name = w.category.__name__
        if "Convergence" in name or "Runtime" in name or issubclass(w.category, UserWarning):
            counts[name] = counts.get(name, 0) + 1
    out["notes"] += [f"{v}x {k}" for k, v in counts.items()]
    return out
