"""Self-contained HTML reports: a trained model, and a monitor run.

Every image is a PNG embedded as base64, so a report is one file that opens
anywhere. Reports are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import base64
import html
import os

import numpy as np

from enet._fs import GENERATOR, HTML_SUFFIXES, write_atomic

__all__ = ["training_report", "monitor_report", "write_report", "default_report_path"]

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#1a202c}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #cbd5e0}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
td,th{border:1px solid #e2e8f0;padding:3px 8px;text-align:left}
th{background:#f7fafc}td.num{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#c53030;font-weight:bold}.ok{color:#2f855a;font-weight:bold}
.note{color:#4a5568}img{max-width:100%;display:block;margin:.5em 0}
"""


def _e(x) -> str:
    return html.escape(str(x))


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _table(rows, header=None) -> str:
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = []
        for c in row:
            if isinstance(c, (int, float, np.floating)) and not isinstance(c, bool):
                cells.append(f'<td class="num">{_fmt(c)}</td>')
            else:
                cells.append(f"<td>{_e(c)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _fmt(x) -> str:
    if x is None:
        return ""
    if isinstance(x, (int, np.integer)):
        return f"{x:,}"
    x = float(x)
    if not np.isfinite(x):
        return "n/a"
    return f"{x:.4g}"


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<meta name=\"generator\" content=\"{GENERATOR}\">"
            f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _hyperparameters(model) -> str:
    """The chosen hyperparameters, machine-readable (data-value holds the exact float)."""
    return (f'<table><tr><th>alpha</th><td id="alpha" data-value="{model.alpha!r}" '
            f'class="num">{model.alpha:.6g}</td></tr>'
            f'<tr><th>l1_ratio</th><td id="l1_ratio" data-value="{model.l1_ratio!r}" '
            f'class="num">{model.l1_ratio:g}</td></tr></table>')


def training_report(model, title: str = "model", lineage: list[dict] | None = None) -> str:
    """HTML report of a trained model.

    Parameters
    ----------
    model : Model
    title : str
        Shown in the heading (a path or a registry reference).
    lineage : list of dict, optional
        Registry versions from this one back through its parents (version, created,
        parent, cv_rmse, description, aliases).

    Returns
    -------
    str
        A self-contained HTML document.
    """
    from enet.report import figures as fg

    m, cert = model.metrics, model.certificate
    body = [f"<h1>enet model report: {_e(title)}</h1>", "<h2>Chosen hyperparameters</h2>",
            _hyperparameters(model)]
    prof = model.profile
    summary = [("target", model.manifest.target),
               ("selection", f"{model.params.get('selection')} over l1_ratio "
                             f"{model.params.get('l1_ratios')} x {model.params.get('n_alphas')}"
                             f" alphas, {model.params.get('folds')} folds"),
               ("CV RMSE", m["cv_rmse"]), ("CV MSE +- SE", f"{m['cv_mse']:.6g} +- "
                                                          f"{m['cv_mse_se']:.3g}"),
               ("CV R^2", m.get("cv_r2")), ("training R^2", m.get("train_r2")),
               ("nonzero coefficients", f"{model.n_nonzero} of {len(model.features)}"),
               ("rows", prof.get("n_rows")), ("solver", cert.get("solver")),
               ("converged", f"{cert.get('converged')} (relative gap "
                             f"{max(cert.get('relative_gap', 0.0), 0.0):.2e})")]
    body.append(_table(summary))
    if "cv_mean" in model.arrays:
        pts = fg.selection_points(model)
        li, ai = pts["1se"]
        body += ["<h2>Cross-validation curve</h2>",
                 _img(fg.cv_curve(model), "CV curve"),
                 f'<p class="note">The one-standard-error point: alpha '
                 f'{model.arrays["cv_alphas"][li, ai]:.6g} at l1_ratio '
                 f'{model.arrays["cv_l1_ratios"][li]:g}.</p>']
    if "path_alphas" in model.arrays:
        body += ["<h2>Coefficient paths</h2>", _img(fg.coefficient_paths(model),
                                                     "coefficient paths")]
    body += ["<h2>Standardised coefficients</h2>", _img(fg.coefficient_bars(model),
                                                         "standardised coefficients")]
    res = fg.residual_plot(model)
    if res is not None:
        body += ["<h2>Residuals</h2>", _img(res, "residuals against fitted values")]
        resid = prof.get("drift", {}).get("residuals", {})
        rows = [(k, r.get("rows"), r.get("rmse"), r.get("mae"), r.get("mean"),
                 r.get("quantiles", {}).get("0.05"), r.get("quantiles", {}).get("0.95"))
                for k, r in resid.items()]
        body.append(_table(rows, ["residuals", "sampled rows", "RMSE", "MAE", "mean",
                                  "5%", "95%"]))
    stab = fg.stability_bars(model)
    if stab is not None:
        info = m.get("stability_selection", {})
        body += ["<h2>Coefficient stability (stability selection)</h2>",
                 _img(stab, "stability selection frequencies"),
                 f'<p class="note">{info.get("fits")} fits, each on a random half of '
                 f'{info.get("blocks")} row blocks, at alpha {info.get("alpha", 0):.6g} and '
                 f'l1_ratio {info.get("l1_ratio")}.</p>']
    body += ["<h2>Lineage</h2>", _lineage_table(model, lineage)]
    return _page(f"enet model report: {title}", body)


def _lineage_table(model, lineage: list[dict] | None) -> str:
    lin = model.lineage
    data = lin.get("data", {})
    rows = [("trained", lin.get("created")), ("data", data.get("path") or "(in memory)"),
            ("data sha256", data.get("sha256")), ("rows", data.get("rows")),
            ("packages", ", ".join(f"{k} {v}" for k, v in lin.get("versions", {}).items()))]
    out = _table(rows)
    if lineage:
        out += _table([(v.get("version"), v.get("created"), v.get("parent"),
                        v.get("cv_rmse"), " ".join("@" + a for a in v.get("aliases", [])),
                        v.get("description", "")) for v in lineage],
                      ["version", "registered", "parent", "CV RMSE", "aliases",
                       "description"])
    return out


def monitor_report(result, model, title: str = "model", top: int = 6) -> str:
    """HTML report of a monitor run: status, ranked drift, histograms of the most
    impactful drifting inputs (training against new), prediction drift, accuracy."""
    from enet.report import figures as fg

    ok = result.status != "breached"
    body = [f"<h1>enet monitor report: {_e(title)}</h1>",
            f"<p>data <code>{_e(result.data)}</code>, {result.rows:,} rows: status "
            f'<span class="{"ok" if ok else "bad"}">{_e(result.status)}</span></p>',
            "<h2>Model</h2>", _hyperparameters(model)]
    if result.breaches:
        body.append("<h2>Breached thresholds</h2><ul>" + "".join(
            f"<li class=\"bad\">{_e(b)}</li>" for b in result.breaches) + "</ul>")
    if result.notes:
        body.append("<ul>" + "".join(f'<li class="note">{_e(n)}</li>' for n in result.notes)
                    + "</ul>")
    body.append("<h2>Drift by impact</h2>")
    body.append(_table([(r["name"], r["kind"], f"{r['impact']:.1%}", r["psi"], r["ks"],
                         r["ks_pvalue"], r["wasserstein_sd"],
                         f"{r['missing_rate_train']:.1%} -> {r['missing_rate_new']:.1%}",
                         f"{r['unseen_rate']:.1%}", "ALARM" if r.get("alarm") else
                         ("drift, low impact" if r.get("drift") else ""))
                        for r in result.features],
                       ["input", "kind", "impact", "PSI", "KS", "KS p", "Wasserstein/sd",
                        "missing", "unseen", ""]))
    shown = [r for r in result.features if r.get("drift")][:top] or result.features[:top]
    body.append("<h2>Distributions of the most impactful drifting inputs</h2>")
    for r in shown:
        body.append(_img(fg.drift_histogram(r), f"histogram of {r['name']}"))
    p = result.prediction
    body += ["<h2>Predictions</h2>",
             _table([("PSI", p["psi"]), ("KS", p["ks"]), ("Wasserstein / training sd",
                                                           p["wasserstein_sd"]),
                     ("mean (training -> new)", f"{p['mean_train']:.5g} -> "
                                                f"{p['mean_new']:.5g}"),
                     ("sd (training -> new)", f"{p['sd_train']:.5g} -> {p['sd_new']:.5g}")]),
             _img(fg.drift_histogram(dict(p, name="predictions")), "prediction histogram")]
    a = result.accuracy
    if a and a.get("rows"):
        body += ["<h2>Accuracy against the CV estimate (validation gap)</h2>",
                 _table([("RMSE", a["rmse"], a["cv_rmse"], f"{a['rmse_gap']:+.1%}"),
                         ("MAE", a["mae"], a.get("cv_mae"), f"{a['mae_gap']:+.1%}"
                          if a.get("cv_mae") else ""),
                         ("R^2", a["r2"], a.get("cv_r2"), "")],
                        ["metric", f"new data ({a['rows']:,} labelled rows)", "CV estimate",
                         "gap"])]
    th = result.thresholds
    body += ["<h2>Thresholds</h2>", _table(sorted(th.items()))]
    return _page(f"enet monitor report: {title}", body)


def write_report(text: str, path: str | os.PathLike) -> str:
    """Write a report atomically; returns its absolute path."""
    return write_atomic(path, text, "HTML report", HTML_SUFFIXES)


def default_report_path(model_path: str | os.PathLike) -> str:
    """Where ``enet train -o DIR`` puts its report: ``DIR.report.html`` next to the model
    (a ``.zip`` model: the zip's name without ``.zip``)."""
    path = os.path.abspath(os.fspath(model_path)).rstrip(os.sep)
    if path.endswith(".zip"):
        path = path[:-4]
    return path + ".report.html"
