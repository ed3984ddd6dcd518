"""Matplotlib figures of a model and of a monitor run, as PNG bytes.

Figures are built with :class:`matplotlib.figure.Figure` (rendered by Agg, no
pyplot, no display or global state), so reports can be written from servers,
cron jobs and threads.
"""

from __future__ import annotations

import io

import numpy as np

from enet.exceptions import UsageError

__all__ = ["cv_curve", "coefficient_paths", "coefficient_bars", "residual_plot",
           "stability_bars", "drift_histogram", "selection_points", "path_matrix"]

_DPI = 100


def _figure(width: float = 7.0, height: float = 4.2, left: float = 0.11,
            bottom: float = 0.13):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError("reports need matplotlib: pip install 'enet[report]'") from None
    # fixed margins: a layout engine would triple the rendering time
    fig = Figure(figsize=(width, height), dpi=_DPI)
    fig.subplots_adjust(left=left, right=0.97, bottom=bottom, top=0.9)
    return fig, fig.subplots()


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return buf.getvalue()


def selection_points(model) -> dict:
    """Grid indices of the chosen, minimum and one-standard-error points."""
    from enet.core.cv import select

    a = model.arrays
    ratios, alphas, mean, se = a["cv_l1_ratios"], a["cv_alphas"], a["cv_mean"], a["cv_se"]
    li = int(np.argmin(np.abs(ratios - model.l1_ratio)))
    ai = int(np.argmin(np.abs(alphas[li] - model.alpha)))
    one_se, imin = select(mean, se, alphas, "1se")
    return {"chosen": (li, ai), "min": imin, "1se": one_se}


def cv_curve(model) -> bytes:
    """CV mean squared error +- SE against alpha (log axis), one line per l1_ratio, with
    the chosen and the one-standard-error points marked."""
    a = model.arrays
    ratios, alphas, mean, se = a["cv_l1_ratios"], a["cv_alphas"], a["cv_mean"], a["cv_se"]
    pts = selection_points(model)
    fig, ax = _figure()
    for li, r in enumerate(ratios):
        line, = ax.plot(alphas[li], mean[li], label=f"l1_ratio {r:g}", lw=1.4)
        ax.fill_between(alphas[li], mean[li] - se[li], mean[li] + se[li],
                        color=line.get_color(), alpha=0.15, lw=0)
    li, ai = pts["1se"]
    ax.plot(alphas[li, ai], mean[li, ai], "s", mfc="none", mec="black", ms=10,
            label=f"1se point (alpha {alphas[li, ai]:.3g})")
    li, ai = pts["chosen"]
    ax.errorbar(alphas[li, ai], mean[li, ai], yerr=se[li, ai], fmt="o", color="crimson",
                ms=7, capsize=4, label=f"chosen (alpha {model.alpha:.3g}, "
                                       f"l1_ratio {model.l1_ratio:g})")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("alpha (log scale; stronger penalty to the left)")
    ax.set_ylabel("CV mean squared error +- SE")
    ax.set_title(f"Cross-validation ({model.params.get('folds')} folds, "
                 f"selection {model.params.get('selection')})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def path_matrix(model) -> np.ndarray:
    """The coefficient path (alphas x features), dense (for plotting)."""
    a = model.arrays
    if "path_coef" in a:
        return a["path_coef"]
    import scipy.sparse as sp
    m = a["path_alphas"].shape[0]
    return sp.csr_matrix((a["path_coef_data"], a["path_coef_indices"], a["path_coef_indptr"]),
                         shape=(m, len(model.coef))).toarray()


def coefficient_paths(model, top: int = 12) -> bytes:
    """Standardised coefficients along the selected l1_ratio's path."""
    alphas = model.arrays["path_alphas"]
    path = path_matrix(model) * model.x_scale[None, :]
    fig, ax = _figure()
    strength = np.abs(path).max(axis=0)
    order = np.argsort(-strength, kind="stable")
    shown = [j for j in order[:40] if strength[j] > 0]
    for rank, j in enumerate(shown):
        ax.plot(alphas, path[:, j], lw=1.2 if rank < top else 0.6,
                label=model.features[j] if rank < top else None,
                alpha=1.0 if rank < top else 0.5)
    ax.axvline(model.alpha, color="crimson", ls="--", lw=1, label="chosen alpha")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("alpha (log scale)")
    ax.set_ylabel("standardised coefficient")
    ax.set_title(f"Coefficient paths (l1_ratio {model.l1_ratio:g})")
    if shown:
        ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return _png(fig)


def coefficient_bars(model, top: int = 30) -> bytes:
    """Nonzero standardised coefficients, largest magnitude at the top."""
    rows = model.nonzero_coefficients()[:top]
    fig, ax = _figure(7.0, max(2.5, 0.28 * len(rows) + 1.2), left=0.3,
                      bottom=0.6 / max(2.5, 0.28 * len(rows) + 1.2))
    names = [r[0] for r in rows][::-1]
    values = [r[2] for r in rows][::-1]
    ax.barh(range(len(values)), values,
            color=["#2b6cb0" if v > 0 else "#c53030" for v in values])
    ax.set_yticks(range(len(values)), names, fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("standardised coefficient (per training sd)")
    ax.set_title(f"Standardised coefficients ({model.n_nonzero} nonzero of "
                 f"{len(model.features)})")
    return _png(fig)


def residual_plot(model) -> bytes | None:
    """Training residuals against fitted values (a uniform sample of rows)."""
    fitted = model.arrays.get("report_fitted")
    resid = model.arrays.get("report_residual")
    if fitted is None or fitted.size == 0:
        return None
    fig, ax = _figure()
    ax.scatter(fitted, resid, s=8, alpha=0.5, color="#2b6cb0", lw=0)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("fitted value")
    ax.set_ylabel("residual (target - fitted)")
    ax.set_title(f"Residuals against fitted values ({fitted.size} sampled training rows)")
    ax.grid(alpha=0.3)
    return _png(fig)


def stability_bars(model, top: int = 30) -> bytes | None:
    """Selection frequency over the half-sample fits, most frequent first."""
    freq = model.arrays.get("stability_frequency")
    if freq is None:
        return None
    order = np.argsort(-freq, kind="stable")[:top][::-1]
    fig, ax = _figure(7.0, max(2.5, 0.28 * len(order) + 1.2), left=0.3,
                      bottom=0.6 / max(2.5, 0.28 * len(order) + 1.2))
    ax.barh(range(len(order)), freq[order], color="#2f855a")
    ax.set_yticks(range(len(order)), [model.features[j] for j in order], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("selection frequency")
    info = model.metrics.get("stability_selection", {})
    ax.set_title(f"Stability selection: {info.get('fits')} half-sample fits at the chosen "
                 f"alpha and l1_ratio")
    return _png(fig)


def drift_histogram(row: dict) -> bytes:
    """Training against new bin frequencies of one input (or the predictions)."""
    bins = row["bins"]
    train, new = np.asarray(bins["train"]), np.asarray(bins["new"])
    if "labels" in bins:
        labels = [lab.split("=", 1)[-1] for lab in bins["labels"]]
    else:
        e = bins["edges"]
        labels = ([f"<= {e[0]:.3g}"] if e else ["all"]) + \
                 [f"({e[i]:.3g}, {e[i + 1]:.3g}]" for i in range(len(e) - 1)] + \
                 ([f"> {e[-1]:.3g}"] if e else [])
    fig, ax = _figure(7.0, 3.6, bottom=0.32)
    x = np.arange(len(train))
    ax.bar(x - 0.2, train, width=0.4, label="training", color="#718096")
    ax.bar(x + 0.2, new, width=0.4, label="new data", color="#dd6b20")
    ax.set_xticks(x, labels, rotation=35, ha="right", fontsize=7)
    ax.set_ylabel("share of rows")
    psi = row.get("psi")
    ax.set_title(f"{row['name']}: PSI {psi:.3g}" if isinstance(psi, float) else row["name"])
    ax.legend(fontsize=8)
    return _png(fig)
