"""The ``monitor``, ``retrain`` and ``report`` commands (registered on ``enet.cli.app``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from enet.cli import (DelimiterOpt, EncodingOpt, NaValueOpt, NoQuotingOpt, QuoteOpt, RegistryOpt,
                      _csv_options, _fail, _progress, _row, _user_errors, app, err, out)
from enet.exceptions import UsageError

__all__ = ["monitor", "retrain", "report", "write_training_report"]


def _registry_ref(ref: str) -> tuple[str, int] | None:
    """(name, version) when ``ref`` is a registry reference rather than a path."""
    import re

    if os.path.exists(ref) or ("@" not in ref and not re.match(r"^[^/]+/\d+$", ref)):
        return None
    from enet.registry import parse_ref
    name, version, _ = parse_ref(ref)
    return name, version


def _resolve(ref: str, registry) -> tuple[object, tuple[str, int] | None]:
    """The model and, for a registry reference, its (name, version)."""
    from enet.registry import open_registry, resolve_model

    key = _registry_ref(ref)
    if key is None:
        return resolve_model(ref, registry), None
    reg = open_registry(registry)
    name, version = key
    if version is None:
        from enet.registry import parse_ref
        _, _, alias = parse_ref(ref)
        version = reg.alias_version(name, alias)
        if version is None:
            from enet.exceptions import ModelError
            raise ModelError(f"{ref}: no alias '{alias}' for model '{name}' in {reg.root}")
    return reg.load(name, version), (name, version)


def _lineage(reg_key, registry) -> list[dict] | None:
    """Registry versions from this one back through its parents."""
    if reg_key is None:
        return None
    from enet.registry import open_registry

    reg = open_registry(registry)
    name, version = reg_key
    chain, seen = [], set()
    while version is not None and version not in seen:
        seen.add(version)
        try:
            v = reg.get(name, version)
        except Exception:        # a deleted parent ends the chain
            break
        chain.append({"version": v.version, "created": v.created, "parent": v.parent,
                      "cv_rmse": v.summary.get("cv_rmse"), "description": v.description,
                      "aliases": v.aliases})
        version = v.parent
    return chain


def write_training_report(model, path, title: str, lineage=None) -> str | None:
    """Write a model's HTML report; None (with a note) when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        err.print("note: no report written: matplotlib is not installed "
                  "(pip install 'enet[report]')", highlight=False, soft_wrap=True)
        return None
    from enet.report import training_report, write_report
    return write_report(training_report(model, title, lineage), path)


@app.command()
def monitor(
    model: Annotated[str, typer.Option("--model", "-m", help=(
        "Model directory or .zip, or a registry reference: NAME/3 or NAME@champion."))],
    data: Annotated[Path, typer.Option("--data", "-d", help="New data (CSV, TSV or Parquet).")],
    target: Annotated[Optional[str], typer.Option(
        "--target", "-t", help="Label column: adds RMSE, MAE and R^2 against the CV "
                               "estimate.")] = None,
    out_html: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Write the HTML report here.")] = None,
    out_json: Annotated[Optional[Path], typer.Option(
        "--json", help="Write the full result as JSON here.")] = None,
    thresholds: Annotated[Optional[Path], typer.Option(
        help="Thresholds file (TOML or JSON); defaults are documented in the README.")] = None,
    record: Annotated[bool, typer.Option(
        "--record/--no-record", help="Record the run in the registry (registry references "
                                     "only); the retrain policy reads these runs.")] = True,
    top: Annotated[int, typer.Option(min=1, help="Show at most this many inputs.")] = 20,
    registry: RegistryOpt = None,
    delimiter: DelimiterOpt = None,
    quote_char: QuoteOpt = '"',
    no_quoting: NoQuotingOpt = False,
    encoding: EncodingOpt = "utf-8",
    na_value: NaValueOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the status line.")] = False,
) -> None:
    """Compare new data with the model's training profile: drift per input ranked by
    impact, prediction drift and, with --target, accuracy against the CV estimate.

    Exit code 0 healthy, 1 thresholds breached, 2 bad input.
    """
    from enet.monitor.monitor import monitor_file
    from enet.monitor.thresholds import load_thresholds

    with _user_errors():
        th = load_thresholds(thresholds)
        csv = _csv_options(delimiter, quote_char, no_quoting, encoding, na_value)
        if not data.exists():
            raise UsageError(f"{data}: no such file")
        from enet._fs import HTML_SUFFIXES, check_output_file
        if out_json is not None:
            check_output_file(out_json, "JSON result", (".json",))
        if out_html is not None:
            check_output_file(out_html, "HTML report", HTML_SUFFIXES)
        m, key = _resolve(model, registry)
        with _progress(quiet) as progress:
            scan = (lambda rows, frac: progress("monitoring", rows, frac)) if progress else None
            result = monitor_file(m, data, target, th, csv, progress=scan)
        result.model = {"ref": model, "alpha": m.alpha, "l1_ratio": m.l1_ratio}
        if key is not None:
            result.model.update(name=key[0], version=key[1])
        if out_json is not None:
            from enet._fs import write_atomic
            write_atomic(out_json, json.dumps(result.to_json(), indent=2, allow_nan=False),
                         "JSON result", (".json",))
        if out_html is not None:
            from enet.report import monitor_report, write_report
            write_report(monitor_report(result, m, model), out_html)
        if key is not None and record:
            from enet.monitor.history import History
            from enet.registry import open_registry
            History(open_registry(registry).root).record_run(
                key[0], key[1], os.path.abspath(data), result.rows, result.status,
                result.breaches)
        if not quiet:
            _print_monitor(result, top)
        line = f"{result.status}: {result.rows:,} rows, {len(result.breaches)} breach(es)"
        err.print(("[bold red]" if result.exit_code else "[green]") + escape(line) + "[/]",
                  highlight=False, soft_wrap=True)
    raise typer.Exit(result.exit_code)


def _f(x, spec: str = ".3g") -> str:
    return "-" if x is None or x != x else format(x, spec)


def _print_monitor(result, top: int) -> None:
    t = Table(title=Text(f"drift by impact ({result.data})"), title_justify="left")
    for col in ("input", "impact", "PSI", "KS", "KS p", "W/sd", "missing", "unseen", ""):
        t.add_column(col, justify="left" if col in ("input", "") else "right")
    for r in result.features[:top]:
        flag = "ALARM" if r.get("alarm") else ("drift, low impact" if r.get("drift") else "")
        _row(t, r["name"], f"{r['impact']:.1%}", _f(r["psi"], ".3f"), _f(r["ks"], ".3f"),
             _f(r["ks_pvalue"], ".1g"), _f(r["wasserstein_sd"], ".3f"),
             f"{r['missing_rate_new']:.1%}", f"{r['unseen_rate']:.1%}",
             Text(flag, style="bold red" if r.get("alarm") else "yellow"))
    out.print(t)
    p = result.prediction
    out.print(f"predictions: PSI {_f(p['psi'])}, KS {_f(p['ks'])}, mean {p['mean_train']:.5g} "
              f"-> {_f(p['mean_new'], '.5g')}, sd {p['sd_train']:.5g} -> {_f(p['sd_new'], '.5g')}",
              highlight=False, soft_wrap=True)
    a = result.accuracy
    if a and a.get("rows"):
        out.print(f"accuracy on {a['rows']:,} labelled rows: RMSE {a['rmse']:.5g} (CV "
                  f"{a['cv_rmse']:.5g}, gap {a['rmse_gap']:+.1%}), MAE {a['mae']:.5g}, R^2 "
                  f"{_f(a['r2'], '.4f')} (CV {_f(a.get('cv_r2'), '.4f')})", highlight=False, soft_wrap=True)
    for b in result.breaches:
        out.print(f"[bold red]breach:[/] {escape(b)}", highlight=False, soft_wrap=True)
    for n in result.notes:
        out.print(f"note: {escape(n)}", highlight=False, soft_wrap=True)


@app.command()
def retrain(
    model: Annotated[str, typer.Option("--model", "-m", help="NAME@champion (or NAME/V).")],
    data: Annotated[Path, typer.Option("--data", "-d", help="New training data (CSV or "
                                                            "Parquet).")],
    policy: Annotated[Optional[Path], typer.Option(
        help="Retrain policy file (TOML or JSON); defaults are documented in the README.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Retrain whatever the policy says (needs "
                                             "--reason).")] = False,
    reason: Annotated[str, typer.Option(help="Why (with --force); kept in the log.")] = "",
    report: Annotated[Optional[Path], typer.Option(
        help="Write the challenger's HTML report here.")] = None,
    registry: RegistryOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
) -> None:
    """Retrain a registered model with the champion's settings when the retrain policy
    says so (consecutive breached monitor runs, cool-down), register the result as the
    challenger with its parent, and run the promotion gates. Every decision is logged.

    Exit code 0 skipped or retrained with gates passed, 1 challenger failed a gate,
    2 bad input.
    """
    from enet.monitor.retrain import load_policy, retrain as run_retrain
    from enet.registry import open_registry

    with _user_errors():
        pol = load_policy(policy)
        if _registry_ref(model) is None:
            raise UsageError(f"{model!r}: retrain needs a registry reference such as "
                             f"NAME@champion")
        reg = open_registry(registry)
        with _progress(quiet) as progress:
            res = run_retrain(reg, model, data, pol, force, reason, progress=progress)
        if res["decision"] == "skipped":
            out.print(f"skipped: {escape(res['reason'])}", highlight=False, soft_wrap=True)
            return
        name = model.split("@")[0].split("/")[0]
        out.print(f"retrained: {escape(res['reason'])}; registered {escape(name)}/"
                  f"{res['challenger']} (parent {res['champion']}) as "
                  f"@{escape(pol.challenger_alias)}", highlight=False, soft_wrap=True)
        for g in res["gates"]:
            out.print(f"gate {g['gate']}: {'pass' if g['passed'] else 'FAIL'} "
                      f"({escape(g['detail'])})", highlight=False, soft_wrap=True)
        if res["promoted"]:
            out.print(f"{escape(name)}@champion -> {res['challenger']}", highlight=False, soft_wrap=True)
        if report is not None:
            write_training_report(res["model"], report, f"{name}/{res['challenger']}",
                                  _lineage((name, res["challenger"]), registry))
        if not res["passed"]:
            _fail(f"{name}/{res['challenger']} failed the promotion gates against "
                  f"{name}/{res['champion']}; it stays @{pol.challenger_alias}", code=1)


@app.command()
def report(
    model: Annotated[str, typer.Argument(
        help="Model directory or .zip, or a registry reference: NAME/3 or NAME@champion.")],
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="HTML file (default: MODEL.report.html next to a model path, "
                               "NAME-V.report.html for a registry reference).")] = None,
    registry: RegistryOpt = None,
) -> None:
    """(Re)generate a model's HTML report: CV curve, coefficient paths, standardised
    coefficients, residuals, stability selection, lineage."""
    from enet.report import default_report_path

    with _user_errors():
        m, key = _resolve(model, registry)
        if output is None:
            output = Path(default_report_path(model) if key is None
                          else f"{key[0]}-{key[1]}.report.html")
        path = write_training_report(m, output, model, _lineage(key, registry))
        if path is None:
            raise UsageError("reports need matplotlib: pip install 'enet[report]'")
        out.print(f"wrote {escape(path)}", highlight=False, soft_wrap=True)


@app.command("retrain-log")
def retrain_log(
    name: Annotated[str, typer.Argument(help="Model name.")],
    registry: RegistryOpt = None,
) -> None:
    """Monitor runs and retrain decisions of a registered model."""
    from enet.monitor.history import History
    from enet.registry import check_name, open_registry

    with _user_errors():
        check_name(name)
        h = History(open_registry(registry).root)
        t = Table(title=Text(f"monitor runs of {name}"), title_justify="left")
        for col in ("time", "version", "rows", "status", "breaches", "data"):
            t.add_column(col)
        for r in h.runs(name, 50):
            _row(t, r["time"], str(r["version"]), f"{r['rows']:,}", r["status"],
                 str(len(r["breaches"])), r["data"])
        out.print(t)
        t = Table(title="retrain decisions", title_justify="left")
        for col in ("time", "user", "decision", "champion", "challenger", "reason"):
            t.add_column(col)
        for d in h.decisions(name):
            _row(t, d["time"], d["user"], d["decision"], str(d["champion"] or ""),
                 str(d["challenger"] or ""), d["reason"])
        out.print(t)
