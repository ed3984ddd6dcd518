"""The ``enet`` command line: thin commands that forward to library functions."""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.progress import (BarColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from enet.exceptions import EnetError, UsageError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Exact Elastic Net: train with cross-validation, score, inspect.")
out = Console()
err = Console(stderr=True)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr, without source file and code."""
    err.print(f"[yellow]warning:[/] {escape(str(message))}", highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        from enet import __version__
        out.print(f"enet {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Show the version and exit.")] = False
          ) -> None:
    """Exact Elastic Net: train with cross-validation, score, inspect."""


def _row(table: Table, *cells) -> None:
    """A table row whose text is shown literally (data may contain [brackets])."""
    table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells))


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn every expected failure into one line on stderr and exit code 2."""
    try:
        yield
    except EnetError as exc:
        _fail(str(exc), exc.exit_code)
    except (EOFError, UnicodeError, zlib.error) as exc:   # truncated or mis-encoded input
        _fail(f"cannot read the input: {exc}; check that the file is complete and pass "
              f"--encoding if it is not UTF-8")
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        if exc.errno in (errno.EEXIST, errno.ENOTDIR):
            _fail(f"{where}a file is in the way of a directory; choose another output path")
        _fail(f"{where}{exc.strerror or exc}")
    except MemoryError:
        _fail("out of memory; use a smaller chunk or fewer features/levels")
    except typer.Exit:
        raise
    except Exception as exc:  # a bug: still one line, with a way to get details
        if os.environ.get("ENET_DEBUG"):
            raise
        _fail(f"internal error ({exc.__class__.__name__}: {exc}); set ENET_DEBUG=1 for details "
              f"and report it", code=1)


class _ProgressReporter:
    """Rows, rows/s and (when the source size is known) a bar with ETA on stderr.

    A stage's bar appears only once the stage has run for ``delay`` seconds, so
    quick passes stay silent; it is cleared when the work ends.
    """

    def __init__(self, console: Console, delay: float = 1.0):
        self.console = console
        self.delay = delay
        self.bar: Progress | None = None
        self.task = None
        self.stage: str | None = None
        self.started = 0.0
        self.rows = 0

    def __call__(self, stage: str, rows: int, fraction: float | None = None) -> None:
        now = time.perf_counter()
        if stage != self.stage:
            if self.bar is not None and self.task is not None:
                self.bar.remove_task(self.task)
            self.stage, self.started, self.rows, self.task = stage, now, 0, None
        self.rows += rows
        elapsed = now - self.started
        if self.bar is None:
            if elapsed < self.delay:
                return
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                TextColumn("{task.fields[rows]}"), TextColumn("{task.fields[rate]}"),
                                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                console=self.console, transient=True)
            self.bar.start()
        if self.task is None:
            self.task = self.bar.add_task(stage, total=1.0 if fraction is not None else None,
                                          rows="", rate="")
        self.bar.update(self.task, completed=fraction if fraction is not None else 0.0,
                        rows=f"{self.rows:,} rows",
                        rate=f"{self.rows / max(elapsed, 1e-9):,.0f} rows/s")
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str, int, float | None], None] | None]:
    """A progress callback ``(stage, rows, fraction)``; None when quiet or not a terminal."""
    if quiet or not err.is_terminal:
        yield None
        return
    reporter = _ProgressReporter(err)
    try:
        yield reporter
    finally:
        reporter.close()


def _names(values: list[str] | None) -> list[str]:
    """A repeatable column-name option as a list (names may contain commas)."""
    return list(values or [])


def _csv_options(delimiter: str | None, quote_char: str, no_quoting: bool, encoding: str,
                 na_values: list[str] | None):
    from enet.data.readers import CsvOptions

    if delimiter in ("\\t", "tab", "TAB"):
        delimiter = "\t"
    options = CsvOptions(delimiter, None if no_quoting else quote_char, encoding,
                         tuple(na_values or ()))
    options.validate()
    return options


RegistryOpt = Annotated[Optional[Path], typer.Option(
    help="Registry directory (default: $ENET_REGISTRY, else ./enet-registry).")]

# options shared by the commands that read tables
DelimiterOpt = Annotated[Optional[str], typer.Option(
    help="CSV field separator (default: ',' or ';' sniffed, tab for .tsv; 'tab' for tab).")]
QuoteOpt = Annotated[str, typer.Option(help="CSV quoting character.")]
NoQuotingOpt = Annotated[bool, typer.Option("--no-quoting", help="CSV without quoting.")]
EncodingOpt = Annotated[str, typer.Option(help="Text encoding of a CSV file (e.g. latin-1).")]
NaValueOpt = Annotated[Optional[list[str]], typer.Option(
    "--na-value", help="Extra spelling of a missing value (besides '', NA, NaN, null, N/A ...),"
                       " e.g. -999; repeat for several. Stored in the model and applied "
                       "whenever it scores.")]


EngineOpt = Annotated[str, typer.Option(
    help="Where the statistics (or predictions) are computed: local (this process), dask "
         "(a dask.distributed cluster, --scheduler) or spark (--spark-master).")]
SchedulerOpt = Annotated[Optional[str], typer.Option(
    help="Dask scheduler address for --engine dask, e.g. tcp://10.0.0.5:8786.")]
SparkMasterOpt = Annotated[Optional[str], typer.Option(
    help="Spark master for --engine spark (default local[2]; spark://host:7077, yarn ...).")]


def _parse_ratios(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"--l1-ratio must be comma-separated numbers in [0, 1]; got {text!r}") from None
    return values


@app.command()
def train(
    data: Annotated[list[Path], typer.Argument(
        help="Training data: a table (CSV, CSV.gz, TSV, Parquet; several files or a "
             "directory are the pieces of one table) or a sparse matrix (svmlight/libsvm "
             ".svm, or scipy .npz with --target-file).")],
    output: Annotated[Path, typer.Option("--output", "-o",
                                         help="Model directory (or .zip) to write.")],
    target: Annotated[Optional[str], typer.Option(
        "--target", "-t", help="Name of the target column (tables).")] = None,
    l1_ratio: Annotated[str, typer.Option(help="Comma-separated l1_ratio values to cross-validate "
                                               "(1 = lasso, 0 = ridge).")] = "0.1,0.5,0.9,1",
    n_alphas: Annotated[int, typer.Option(help="Number of alphas on each path.")] = 100,
    eps: Annotated[Optional[float], typer.Option(
        help="Smallest alpha as a fraction of alpha_max (default 1e-3, or 1e-2 if rows <= "
             "features).")] = None,
    folds: Annotated[int, typer.Option(help="Number of cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the fold assignment.")] = 0,
    selection: Annotated[str, typer.Option(help="'min': lowest CV error; '1se': largest alpha "
                                                "within one standard error.")] = "min",
    standardize: Annotated[bool, typer.Option(
        "--standardize/--no-standardize",
        help="Penalise features divided by their standard deviation.")] = True,
    exclude: Annotated[Optional[list[str]], typer.Option(
        help="Column to leave out (e.g. an ID); repeat for several.")] = None,
    weight: Annotated[Optional[str], typer.Option(help="Column of non-negative row weights.")] = None,
    group: Annotated[Optional[str], typer.Option(
        help="Column of group labels: no group is split across folds.")] = None,
    categorical: Annotated[Optional[list[str]], typer.Option(
        help="Treat this column as categories (e.g. integer codes); repeat for several. "
             "Text columns are categorical anyway.")] = None,
    impute: Annotated[str, typer.Option(
        help="Fill for missing numeric values: mean (weighted), median or constant.")] = "mean",
    impute_value: Annotated[float, typer.Option(help="The fill with --impute constant.")] = 0.0,
    missing_indicator: Annotated[bool, typer.Option(
        "--missing-indicator/--no-missing-indicator",
        help="Add a 0/1 feature for each numeric column with missing values.")] = True,
    min_frequency: Annotated[int, typer.Option(
        help="Categorical levels seen fewer times are pooled into <other>.")] = 5,
    max_levels: Annotated[int, typer.Option(
        help="At most this many levels per categorical column (most frequent first).")] = 100,
    tol: Annotated[float, typer.Option(help="Relative duality-gap tolerance.")] = 1e-7,
    max_iter: Annotated[int, typer.Option(help="Maximum sweeps per alpha.")] = 10_000,
    solver: Annotated[str, typer.Option(
        help="auto (chosen from rows, features and sparsity), covariance (Gram matrix, "
             "streamed) or naive (coordinate descent on X in memory, for wide or sparse "
             "data).")] = "auto",
    target_file: Annotated[Optional[Path], typer.Option(
        help="Target values (.npy or one number per line) for a .npz matrix.")] = None,
    index_base: Annotated[str, typer.Option(
        help="Feature index base of an svmlight file: 0, 1 or auto (one-based unless index "
             "0 occurs). Set it for a zero-based file whose first feature may be absent "
             "(scikit-learn's dump_svmlight_file writes zero-based).")] = "auto",
    n_features: Annotated[Optional[int], typer.Option(
        min=1, help="Number of features of an svmlight file (default: its largest index), "
                    "so that scoring rows may use features absent from training.")] = None,
    delimiter: DelimiterOpt = None,
    quote_char: QuoteOpt = '"',
    no_quoting: NoQuotingOpt = False,
    encoding: EncodingOpt = "utf-8",
    na_value: NaValueOpt = None,
    no_default_na: Annotated[bool, typer.Option(
        "--no-default-na", help="Only empty fields (and --na-value) are missing: NA, None, "
                                "null ... are ordinary values (e.g. the country code NA).")
    ] = False,
    register: Annotated[Optional[str], typer.Option(
        help="Also add the model to the registry as the next version of this name.")] = None,
    mlflow_uri: Annotated[Optional[str], typer.Option(
        help="Also log parameters, metrics and the model to this MLflow tracking URI "
             "(e.g. sqlite:///mlflow.db; needs the mlflow extra).")] = None,
    description: Annotated[str, typer.Option(help="Description stored with --register.")] = "",
    parent: Annotated[Optional[int], typer.Option(
        help="With --register: the version this model was retrained from.")] = None,
    registry: RegistryOpt = None,
    stability: Annotated[int, typer.Option(
        min=0, help="Stability selection: selection frequency of each feature over this many "
                    "half-sample fits at the chosen alpha and l1_ratio (0 = off).")] = 0,
    report: Annotated[bool, typer.Option(
        "--report/--no-report", help="Write MODEL.report.html next to the model.")] = True,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    spark_master: SparkMasterOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")] = False,
) -> None:
    """Cross-validate over alpha x l1_ratio, refit on all rows and write the model.

    Columns are numeric, boolean or categorical (text, or named with --categorical);
    missing values are imputed and categoricals one-hot encoded, all learned here and
    stored in the model. Rows whose target is missing are skipped and counted.
    """
    from enet.artifact import check_output_path, save_model
    from enet.data.matrix import is_matrix_file
    from enet.data.readers import is_table_file, unknown_file_type
    from enet.train import (MATRIX_TARGET_HINT, TrainConfig, check_input_options,
                            check_table_pieces, train_file, train_matrix)

    with _user_errors():
        pieces = len(data) > 1 or data[0].is_dir() or engine != "local" or \
            bool(scheduler or spark_master)
        matrix = not pieces and is_matrix_file(data[0])
        if pieces:
            check_table_pieces(data, engine)
        if not pieces and not matrix and not is_table_file(data[0]):
            raise unknown_file_type(data[0])
        if not matrix and not target:
            hint = ("; an svmlight file needs the suffix .svm, .svmlight or .libsvm (a .txt "
                    "file is read as a table)" if str(data[0]).lower().endswith(".txt") else "")
            raise UsageError("--target is required for a table (CSV or Parquet); name the "
                             "column to predict" + hint)
        if matrix and (exclude or weight or group or categorical):
            raise UsageError("--exclude, --weight, --group and --categorical apply to tables, "
                             "not to a matrix file")
        if matrix and target:
            raise UsageError(MATRIX_TARGET_HINT)
        base = _index_base(index_base)
        check_input_options(data[0], target_file, base, n_features)
        config = TrainConfig(target=target or "y", exclude=_names(exclude), weight=weight,
                             group=group, l1_ratios=_parse_ratios(l1_ratio), n_alphas=n_alphas,
                             eps=eps, folds=folds, seed=seed, selection=selection,
                             standardize=standardize, tol=tol, max_iter=max_iter,
                             categorical=_names(categorical), impute=impute,
                             impute_value=impute_value, missing_indicator=missing_indicator,
                             min_frequency=min_frequency, max_levels=max_levels,
                             solver=solver, na_values=list(na_value or []),
                             default_na=not no_default_na, stability=stability)
        config.validate()
        csv = _csv_options(delimiter, quote_char, no_quoting, encoding, na_value)
        check_output_path(output)          # fail before a long training, not after
        if report:
            from enet._fs import HTML_SUFFIXES, check_output_file
            from enet.report import default_report_path
            try:
                check_output_file(default_report_path(output), "HTML report", HTML_SUFFIXES)
            except UsageError as exc:
                raise UsageError(f"{exc} (or pass --no-report)") from None
        if register:
            from enet.registry import check_name
            check_name(register)
        start = time.perf_counter()
        if pieces:
            from enet.train_scale import train_files
            model = train_files(data, config, engine, scheduler, spark_master, csv)
        elif matrix:
            model = train_matrix(data[0], config, target_file, base, n_features)
        else:
            with _progress(quiet) as progress:
                model = train_file(data[0], config, progress, csv)
        elapsed = time.perf_counter() - start
        save_model(model, output)
        if not quiet:
            _print_summary(model, str(output), elapsed)
        lineage = None
        if register:
            from enet.registry import open_registry
            v = open_registry(registry).register(register, model, description, parent=parent)
            lineage = [{"version": v.version, "created": v.created, "parent": v.parent,
                        "cv_rmse": v.summary.get("cv_rmse"), "description": v.description,
                        "aliases": v.aliases}]
            err.print(f"registered {escape(v.ref)}", highlight=False)     # even with --quiet
        if report:
            from enet.cli_monitor import write_training_report
            from enet.report import default_report_path
            written = write_training_report(model, default_report_path(output), str(output),
                                            lineage)
            if written and not quiet:
                err.print(f"wrote {escape(written)}", highlight=False)
        if mlflow_uri:
            from enet.mlflow_export import log_to_mlflow
            run = log_to_mlflow(model, output, mlflow_uri)
            if not quiet:
                err.print(f"logged MLflow run {run}", highlight=False)


def _index_base(text: str | None) -> int | str | None:
    """--index-base as given: None for auto or absent, 0 or 1, else the text (refused where
    it is checked)."""
    return {None: None, "auto": None, "0": 0, "1": 1}.get(text, text)


def _solver_text(model) -> str:
    """The solver that trained ``model`` and who chose it."""
    how = ("set by --solver" if model.params.get("solver", "auto") != "auto"
           else "chosen from rows, features and sparsity")
    return f"{model.certificate.get('solver', 'covariance')} ({how})"


def _print_summary(model, output: str, elapsed: float) -> None:
    m, c = model.metrics, model.certificate
    t = Table(title="enet train", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    prof = model.profile
    _row(t, "rows", f"{prof['n_rows']:,}" + (
        f" ({prof['rows_dropped_missing_target']:,} rows with a missing target skipped)"
        if prof.get("rows_dropped_missing_target") else ""))
    if model.manifest.layout == "matrix":
        mx = model.manifest.matrix
        names = f"f{mx['index_base']} .. f{len(model.features) - 1 + mx['index_base']}"
        base = (f", {('zero', 'one')[mx['index_base']]}-based (--index-base to change)"
                if mx["format"] == "svmlight" else "")
        _row(t, "inputs", f"{mx['format']} matrix, {len(model.features):,} features "
                            f"({names}{base}), density {prof.get('density', 0):.2%}")
    else:
        kinds = [c.kind for c in model.inputs]
        _row(t, "inputs", ", ".join(f"{kinds.count(k)} {k}" for k in ("numeric", "boolean",
                                                                         "categorical")
                                      if kinds.count(k)) + f" -> {len(model.features)} features")
    _row(t, "solver", _solver_text(model))
    _row(t, "folds", f"{model.params['folds']} ({model.params['fold_rule']})")
    _row(t, "alpha", f"{model.alpha:.6g}")
    _row(t, "l1_ratio", f"{model.l1_ratio:g}")
    _row(t, "CV RMSE", f"{m['cv_rmse']:.6g}  (MSE {m['cv_mse']:.6g} +- {m['cv_mse_se']:.3g})")
    _row(t, "CV R^2", f"{m['cv_r2']:.4f}")
    _row(t, "nonzero", f"{m['n_nonzero']} of {len(model.features)}")
    if m.get("at_grid_edge"):
        _row(t, "note", "the smallest alpha of the grid was selected: the CV optimum may lie "
                          "below it; try a smaller --eps")
    _row(t, "converged", f"{c['converged']} (relative gap {max(c['relative_gap'], 0.0):.2e}, "
                           f"{c['n_iter']} sweep{'s' if c['n_iter'] != 1 else ''})")
    _row(t, "time", f"{elapsed:.2f} s")
    _row(t, "model", output)
    out.print(t)


@app.command()
def predict(
    model: Annotated[str, typer.Argument(
        help="Model directory or .zip, or a registry reference: NAME/3 or NAME@champion.")],
    data: Annotated[list[Path], typer.Argument(
        help="Data to score: a table (CSV, CSV.gz, TSV, Parquet; several files or a "
             "directory with --engine) or, for a model trained on a matrix, an "
             "svmlight/libsvm or .npz matrix.")],
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Output file (.csv or .parquet); with --engine dask/spark or "
                               "several inputs, a directory of Parquet parts.")],
    keep: Annotated[Optional[list[str]], typer.Option(
        help="Input column to copy to the output (e.g. an ID); repeat for several.")] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Reject columns the model does not use and categorical levels not "
                         "seen in training, instead of noting them.")] = False,
    registry: RegistryOpt = None,
    delimiter: DelimiterOpt = None,
    quote_char: QuoteOpt = '"',
    no_quoting: NoQuotingOpt = False,
    encoding: EncodingOpt = "utf-8",
    na_value: NaValueOpt = None,
    index_base: Annotated[Optional[str], typer.Option(
        help="Feature index base of an svmlight scoring file (0 or 1), when it differs "
             "from the model's training file (inspect shows that base).")] = None,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    spark_master: SparkMasterOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")] = False,
) -> None:
    """Score a table in input row order, writing a 'prediction' column.

    Missing values are filled as in training; unseen categorical levels are scored
    as <other>; both are counted and reported.
    """
    from enet.registry import resolve_model
    from enet.score import predict_file

    with _user_errors():
        csv = _csv_options(delimiter, quote_char, no_quoting, encoding, na_value)
        m = resolve_model(model, registry)
        if len(data) > 1 or data[0].is_dir() or engine != "local" or scheduler or spark_master:
            if index_base is not None:
                raise UsageError("--index-base applies to one svmlight scoring file")
            from enet.train import check_table_pieces
            check_table_pieces(data, engine, "scored")
            from enet.score_scale import predict_files
            counts = predict_files(m, data, output, _names(keep), strict, engine, scheduler,
                                   spark_master, csv)
        else:
            with _progress(quiet) as progress:
                scoring = (lambda rows, frac: progress("scoring", rows, frac)) if progress \
                    else None
                base = _index_base(index_base)
                counts = predict_file(m, data[0], output, _names(keep), scoring, strict, csv,
                                      base)
        if not quiet:
            for note in counts.notes():
                err.print(f"note: {escape(note)}", highlight=False, soft_wrap=True)
            err.print(f"wrote {counts.rows:,} predictions to {escape(str(output))}",
                      highlight=False)


@app.command()
def inspect(
    model: Annotated[str, typer.Argument(
        help="Model directory or .zip, or a registry reference: NAME/3 or NAME@champion.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print model.json content as JSON.")] = False,
    top: Annotated[int, typer.Option(min=0, help="Show at most this many coefficients.")] = 50,
    registry: RegistryOpt = None,
) -> None:
    """Show hyperparameters, CV error +- SE, nonzero coefficients and the certificate."""
    from enet.registry import resolve_model

    with _user_errors():
        m = resolve_model(model, registry)
        if as_json:
            out.print_json(json.dumps(m.to_json()))
            return
        met, cert = m.metrics, m.certificate
        t = Table(title=Text(f"model {model}"), show_header=False, title_justify="left")
        t.add_column(style="bold")
        t.add_column()
        _row(t, "target", m.manifest.target)
        _row(t, "alpha", f"{m.alpha:.6g}")
        _row(t, "l1_ratio", f"{m.l1_ratio:g}")
        _row(t, "selection", f"{m.params.get('selection')} over l1_ratio "
                               f"{m.params.get('l1_ratios')} x {m.params.get('n_alphas')} alphas, "
                               f"{m.params.get('folds')} folds")
        _row(t, "CV MSE", f"{met['cv_mse']:.6g} +- {met['cv_mse_se']:.3g} (SE)")
        _row(t, "CV RMSE", f"{met['cv_rmse']:.6g}")
        _row(t, "nonzero", f"{m.n_nonzero} of {len(m.features)}")
        _row(t, "intercept", f"{m.intercept:.8g}")
        _row(t, "standardize", str(m.params.get("standardize")))
        _row(t, "solver", _solver_text(m))
        _row(t, "certificate", f"converged={cert['converged']}  duality gap "
                                 f"{max(cert['duality_gap'], 0.0):.3e} (relative "
                                 f"{max(cert['relative_gap'], 0.0):.2e}, "
                                 f"tol {cert['tol']:g})  KKT violation "
                                 f"{cert['kkt_violation']:.2e}  sweeps {cert['n_iter']}")
        lin = m.lineage.get("data", {})
        _row(t, "trained on", f"{lin.get('path')} ({lin.get('rows')} rows, sha256 "
                                f"{str(lin.get('sha256'))[:12]}...) at {m.lineage.get('created')}")
        out.print(t)
        if m.manifest.layout == "matrix":
            mx = m.manifest.matrix
            article = "an" if mx["format"] in ("svmlight", "npz") else "a"
            out.print(f"inputs: {article} {escape(mx['format'])} matrix with "
                      f"{mx['n_features']:,} features "
                      f"(f{mx['index_base']} .. f{mx['n_features'] - 1 + mx['index_base']})",
                      highlight=False)
        else:
            out.print(_inputs_table(m))
        c = Table(title="nonzero coefficients (by |standardised coefficient|)",
                  title_justify="left")
        c.add_column("feature")
        c.add_column("coef", justify="right")
        c.add_column("standardised", justify="right")
        freq = m.arrays.get("stability_frequency")
        if freq is not None:
            c.add_column("selected", justify="right")
        for name, raw, std in m.nonzero_coefficients()[:top]:
            extra = [f"{freq[m.features.index(name)]:.0%}"] if freq is not None else []
            _row(c, name, f"{raw:.8g}", f"{std:.6g}", *extra)
        out.print(c)
        _print_stability(m, top)


def _print_stability(m, top: int) -> None:
    """Stability selection frequencies and the drift profile's presence."""
    info = m.metrics.get("stability_selection")
    if info:
        freq = m.arrays["stability_frequency"]
        unselected = [m.features[j] for j in np.argsort(-freq, kind="stable")
                      if m.coef[j] == 0 and freq[j] > 0][:top]
        out.print(f"stability selection: {info['fits']} half-sample fits (random halves of "
                  f"{info['blocks']} row blocks) at alpha {info['alpha']:.6g}, l1_ratio "
                  f"{info['l1_ratio']:g}; column 'selected' is each feature's selection "
                  f"frequency" + (f"; also selected sometimes: {escape(', '.join(unselected))}"
                                  if unselected else ""), highlight=False)
    drift = m.profile.get("drift")
    if drift:
        said = (f"{len(drift['inputs'])} inputs, predictions and CV residuals (enet monitor "
                f"can check this model)")
    elif m.manifest.layout == "matrix":
        said = "none (a matrix model keeps no per-feature profile; monitoring needs a table)"
    else:
        said = "none (trained before model format 3; retrain to monitor)"
    out.print(f"drift profile: {said}", highlight=False)


def _inputs_table(m) -> Table:
    """The feature manifest: each input column, its preprocessing and its share of features."""
    t = Table(title="inputs (feature manifest)", title_justify="left")
    for name, justify in (("column", "left"), ("type", "left"), ("missing", "right"),
                          ("preprocessing", "left"), ("features", "right"), ("nonzero", "right")):
        t.add_column(name, justify=justify)
    prof = m.profile.get("inputs", {})
    j = 0
    for col in m.inputs:
        width = len(col.feature_names())
        nonzero = int(np.count_nonzero(m.coef[j:j + width]))
        j += width
        rate = prof.get(col.name, {}).get("missing_rate")
        if col.kind == "categorical":
            how = f"one-hot: {len(col.levels)} levels" + (" + <other>" if col.other else "") \
                + (" + <missing>" if col.missing_level else "")
        else:
            how = f"fill {col.fill:.6g} ({col.impute})" + (" + indicator" if col.indicator
                                                          else "")
        _row(t, col.name, col.kind, "" if rate is None else f"{rate:.1%}", how, str(width),
                  str(nonzero))
    return t


registry_app = typer.Typer(no_args_is_help=True, help="Versions, aliases, promotion, rollback.")
app.add_typer(registry_app, name="registry")


def _ref(text: str) -> tuple[str, int]:
    from enet.registry import parse_ref

    name, version, alias = parse_ref(text)
    if version is None:
        raise UsageError(f"{text!r}: give a version, as in {name}/3")
    return name, version


@registry_app.command("add")
def registry_add(
    name: Annotated[str, typer.Argument(help="Model name.")],
    model: Annotated[Path, typer.Argument(help="Model directory or .zip to register.")],
    description: Annotated[str, typer.Option(help="Free-text description.")] = "",
    tag: Annotated[Optional[list[str]], typer.Option(help="KEY=VALUE; repeat for several.")
                   ] = None,
    parent: Annotated[Optional[int], typer.Option(help="Version this one was retrained from.")
                      ] = None,
    registry: RegistryOpt = None,
) -> None:
    """Register a trained model as the next version of NAME (immutable)."""
    from enet.artifact import load_model
    from enet.registry import open_registry

    with _user_errors():
        tags = dict(_key_value(t) for t in tag or [])
        v = open_registry(registry).register(name, load_model(model), description, tags, parent)
        out.print(f"registered {escape(v.ref)} (sha256 {v.sha256[:12]}...)", highlight=False)


def _key_value(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise UsageError(f"--tag {text!r}: write KEY=VALUE")
    key, value = text.split("=", 1)
    return key, value


@registry_app.command("list")
def registry_list(
    name: Annotated[Optional[str], typer.Argument(help="Only this model.")] = None,
    registry: RegistryOpt = None,
) -> None:
    """Every registered version with its aliases and CV error."""
    from enet.registry import open_registry

    with _user_errors():
        t = Table(title=Text(f"registry {open_registry(registry).root}"), title_justify="left")
        for col in ("model", "version", "aliases", "cv_rmse", "nonzero", "created", "user",
                    "description"):
            t.add_column(col)
        for v in open_registry(registry).versions(name):
            _row(t, v.name, str(v.version), " ".join("@" + a for a in v.aliases),
                 f"{v.summary.get('cv_rmse', float('nan')):.6g}",
                 f"{v.summary.get('n_nonzero')}/{v.summary.get('n_features')}", v.created,
                 v.user, v.description)
        out.print(t)


@registry_app.command("show")
def registry_show(
    ref: Annotated[str, typer.Argument(help="NAME (its versions and audit log) or NAME/V.")],
    registry: RegistryOpt = None,
) -> None:
    """One version's record, or a model's versions and alias history."""
    from enet.registry import check_name, open_registry

    with _user_errors():
        reg = open_registry(registry)
        if "/" in ref:
            v = reg.get(*_ref(ref))
            out.print_json(json.dumps({"name": v.name, "version": v.version, "sha256": v.sha256,
                                       "created": v.created, "user": v.user,
                                       "parent": v.parent, "description": v.description,
                                       "aliases": v.aliases, "tags": v.tags,
                                       "summary": v.summary}))
            return
        check_name(ref)
        registry_list(ref, registry)
        t = Table(title="audit log", title_justify="left")
        for col in ("time", "user", "action", "alias", "from", "to", "reason"):
            t.add_column(col)
        for e in reg.audit_log(ref):
            _row(t, *("" if e[k] is None else str(e[k]) for k in
                      ("time", "user", "action", "alias", "from", "to", "reason")))
        out.print(t)


@registry_app.command("promote")
def registry_promote(
    name: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[int, typer.Argument(help="Version to promote.")],
    to: Annotated[str, typer.Option("--to", help="Alias to move.")] = "champion",
    max_rmse_increase: Annotated[float, typer.Option(
        help="Gate: CV RMSE may exceed the current alias holder's by at most this fraction.")
    ] = 0.05,
    allow_schema_change: Annotated[bool, typer.Option(
        help="Gate off: the required inputs may differ from the current holder's.")] = False,
    force: Annotated[bool, typer.Option(help="Promote even if a gate fails (needs --reason).")
                     ] = False,
    reason: Annotated[str, typer.Option(help="Why; kept in the audit log.")] = "",
    registry: RegistryOpt = None,
) -> None:
    """Move an alias (default champion) to NAME/VERSION if the promotion gates pass.

    Exit code 1 when a gate fails (the alias does not move), 2 for bad input.
    """
    from enet.registry import open_registry

    with _user_errors():
        res = open_registry(registry).promote(name, version, to, max_rmse_increase,
                                              allow_schema_change, force, reason)
        for g in res["gates"]:
            out.print(f"gate {g['gate']}: {'pass' if g['passed'] else 'FAIL'} "
                      f"({escape(g['detail'])})", highlight=False)
        st = res["stability"]
        if st is not None:
            out.print(f"stability vs {name}/{res['previous']}: sign flips "
                      f"{len(st['sign_flips'])}, support Jaccard {st['support_jaccard']:.3f}, "
                      f"relative L2 change {st['relative_l2_change']:.3g}, entered "
                      f"{len(st['entered'])}, left {len(st['left'])}", highlight=False)
        out.print(f"{escape(name)}@{escape(to)} -> {version} (was {res['previous']})",
                  highlight=False)


@registry_app.command("rollback")
def registry_rollback(
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str, typer.Option(help="Alias to move back.")] = "champion",
    reason: Annotated[str, typer.Option(help="Why; kept in the audit log.")] = "",
    registry: RegistryOpt = None,
) -> None:
    """Move an alias back to the version promoted before the current one."""
    from enet.registry import open_registry

    with _user_errors():
        old, new = open_registry(registry).rollback(name, alias, reason)
        out.print(f"{escape(name)}@{escape(alias)} -> {new} (was {old})", highlight=False)


@registry_app.command("diff")
def registry_diff(
    name: Annotated[str, typer.Argument(help="Model name.")],
    a: Annotated[int, typer.Argument(help="First version.")],
    b: Annotated[int, typer.Argument(help="Second version.")],
    registry: RegistryOpt = None,
) -> None:
    """Two versions side by side: parameters, metrics, coefficient changes."""
    from enet.registry import open_registry

    with _user_errors():
        d = open_registry(registry).diff(name, a, b)
        t = Table(title=Text(f"{name}: {a} vs {b}"), title_justify="left")
        for col in ("", str(a), str(b)):
            t.add_column(col)
        for key, (x, y) in list(d["summary"].items()) + list(d["params"].items()):
            _row(t, key, str(x), str(y))
        out.print(t)
        c = d["coefficients"]
        for label, names in (("entered", c["entered"]), ("left", c["left"]),
                             ("changed sign", c["sign_flips"])):
            out.print(f"{label}: {escape(', '.join(names)) or '-'}", highlight=False)
        out.print(f"support Jaccard {c['support_jaccard']:.3f}, relative L2 change of "
                  f"standardised coefficients {c['relative_l2_change']:.3g}", highlight=False)


@registry_app.command("tag")
def registry_tag(
    ref: Annotated[str, typer.Argument(help="NAME/V")],
    tag: Annotated[str, typer.Argument(help="KEY=VALUE")],
    registry: RegistryOpt = None,
) -> None:
    """Set a tag on a version."""
    from enet.registry import open_registry

    with _user_errors():
        open_registry(registry).tag(*_ref(ref), *_key_value(tag))


@registry_app.command("delete")
def registry_delete(
    ref: Annotated[str, typer.Argument(help="NAME/V")],
    reason: Annotated[str, typer.Option(help="Why; kept in the audit log.")] = "",
    registry: RegistryOpt = None,
) -> None:
    """Delete a version (refused while an alias points at it)."""
    from enet.registry import open_registry

    with _user_errors():
        open_registry(registry).delete(*_ref(ref), reason)
        out.print(f"deleted {escape(ref)}", highlight=False)


@registry_app.command("export")
def registry_export(
    ref: Annotated[str, typer.Argument(help="NAME/V or NAME@alias.")],
    out_dir: Annotated[Path, typer.Argument(help="New directory for the exported model.")],
    format: Annotated[str, typer.Option(help="Export format (mlflow).")] = "mlflow",
    registry: RegistryOpt = None,
) -> None:
    """Export a version as an MLflow pyfunc model (needs the mlflow extra)."""
    from enet.mlflow_export import export_mlflow
    from enet.registry import resolve_model

    with _user_errors():
        if format != "mlflow":
            raise UsageError(f"--format must be mlflow; got {format!r}")
        if os.path.exists(ref) or ("@" not in ref and "/" not in ref):
            raise UsageError(f"{ref!r}: give a registry reference, NAME/3 or NAME@champion")
        export_mlflow(resolve_model(ref, registry), out_dir)
        out.print(f"wrote MLflow model {escape(str(out_dir))}", highlight=False)


from enet import cli_monitor  # noqa: E402,F401  (registers monitor, retrain, report)
from enet import cli_serve  # noqa: E402,F401  (registers serve)


def main() -> None:
    """Entry point of the ``enet`` script."""
    import warnings

    np.seterr(all="ignore")
    warnings.showwarning = _show_warning
    warnings.simplefilter("ignore", RuntimeWarning)

    def _terminate(signum, frame):     # run the cleanup of temporary outputs, then stop
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)
    try:
        app(prog_name="enet")
    except KeyboardInterrupt:
        err.print("interrupted", highlight=False)
        sys.exit(130)


if __name__ == "__main__":
    # run the imported module's app, on which the other command modules register
    from enet.cli import main as _main
    _main()
    sys.exit(0)
