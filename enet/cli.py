"""The ``enet`` command line: thin commands that forward to library functions."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from enet.exceptions import EnetError, UsageError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Exact Elastic Net: train with cross-validation, score, inspect.")
out = Console()
err = Console(stderr=True)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr, without source file and code."""
    err.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


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


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn every expected failure into one line on stderr and exit code 2."""
    try:
        yield
    except EnetError as exc:
        _fail(str(exc), exc.exit_code)
    except (OSError, MemoryError) as exc:
        _fail(f"{exc.__class__.__name__}: {exc}")
    except typer.Exit:
        raise
    except Exception as exc:  # a bug: still one line, with a way to get details
        if os.environ.get("ENET_DEBUG"):
            raise
        _fail(f"internal error ({exc.__class__.__name__}: {exc}); set ENET_DEBUG=1 for details "
              f"and report it", code=1)


@contextmanager
def _progress(label: str, quiet: bool) -> Iterator[Callable[[int], None] | None]:
    """A rows / rows-per-second bar on stderr, only when it is a terminal."""
    if quiet or not err.is_terminal:
        yield None
        return
    with Progress(TextColumn(f"{label}"), BarColumn(), TextColumn("{task.completed:,} rows"),
                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=err,
                  transient=True) as bar:
        task = bar.add_task(label, total=None, rate="")
        start = time.perf_counter()

        def advance(rows: int) -> None:
            bar.advance(task, rows)
            done = bar.tasks[0].completed
            bar.update(task, rate=f"{done / max(time.perf_counter() - start, 1e-9):,.0f} rows/s")
        yield advance


def _parse_ratios(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"--l1-ratio must be comma-separated numbers in [0, 1]; got {text!r}") from None
    return values


@app.command()
def train(
    data: Annotated[Path, typer.Argument(help="Training table: CSV, CSV.gz, TSV or Parquet.")],
    target: Annotated[str, typer.Option("--target", "-t", help="Name of the target column.")],
    output: Annotated[Path, typer.Option("--output", "-o",
                                         help="Model directory (or .zip) to write.")],
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
    tol: Annotated[float, typer.Option(help="Relative duality-gap tolerance.")] = 1e-7,
    max_iter: Annotated[int, typer.Option(help="Maximum sweeps per alpha.")] = 10_000,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")] = False,
) -> None:
    """Cross-validate over alpha x l1_ratio, refit on all rows and write the model."""
    from enet.artifact import check_output_path, save_model
    from enet.train import TrainConfig, train_file

    with _user_errors():
        config = TrainConfig(target=target, exclude=list(exclude or []), weight=weight,
                             group=group, l1_ratios=_parse_ratios(l1_ratio), n_alphas=n_alphas,
                             eps=eps, folds=folds, seed=seed, selection=selection,
                             standardize=standardize, tol=tol, max_iter=max_iter)
        config.validate()
        check_output_path(output)          # fail before a long training, not after
        start = time.perf_counter()
        with _progress("reading", quiet) as progress:
            model = train_file(data, config, progress)
        elapsed = time.perf_counter() - start
        save_model(model, output)
        if not quiet:
            _print_summary(model, str(output), elapsed)


def _print_summary(model, output: str, elapsed: float) -> None:
    m, c = model.metrics, model.certificate
    t = Table(title="enet train", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    t.add_row("rows / features", f"{model.profile['n_rows']:,} / {len(model.features)}")
    t.add_row("folds", f"{model.params['folds']} ({model.params['fold_rule']})")
    t.add_row("alpha", f"{model.alpha:.6g}")
    t.add_row("l1_ratio", f"{model.l1_ratio:g}")
    t.add_row("CV RMSE", f"{m['cv_rmse']:.6g}  (MSE {m['cv_mse']:.6g} +- {m['cv_mse_se']:.3g})")
    t.add_row("CV R^2", f"{m['cv_r2']:.4f}")
    t.add_row("nonzero", f"{m['n_nonzero']} of {len(model.features)}")
    if m.get("at_grid_edge"):
        t.add_row("note", "the smallest alpha of the grid was selected: the CV optimum may lie "
                          "below it; try a smaller --eps")
    t.add_row("converged", f"{c['converged']} (relative gap {c['relative_gap']:.2e}, "
                           f"{c['n_iter']} sweeps)")
    t.add_row("time", f"{elapsed:.2f} s")
    t.add_row("model", output)
    out.print(t)


@app.command()
def predict(
    model: Annotated[Path, typer.Argument(help="Model directory or .zip.")],
    data: Annotated[Path, typer.Argument(help="Table to score: CSV, CSV.gz, TSV or Parquet.")],
    output: Annotated[Path, typer.Option("--output", "-o",
                                         help="Output file (.csv or .parquet).")],
    keep: Annotated[Optional[list[str]], typer.Option(
        help="Input column to copy to the output (e.g. an ID); repeat for several.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")] = False,
) -> None:
    """Score a table in input row order, writing a 'prediction' column."""
    from enet.artifact import load_model
    from enet.score import predict_file

    with _user_errors():
        m = load_model(model)
        with _progress("scoring", quiet) as progress:
            rows = predict_file(m, data, output, list(keep or []), progress)
        if not quiet:
            err.print(f"wrote {rows:,} predictions to {output}", highlight=False)


@app.command()
def inspect(
    model: Annotated[Path, typer.Argument(help="Model directory or .zip.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print model.json content as JSON.")] = False,
    top: Annotated[int, typer.Option(min=0, help="Show at most this many coefficients.")] = 50,
) -> None:
    """Show hyperparameters, CV error +- SE, nonzero coefficients and the certificate."""
    from enet.artifact import load_model

    with _user_errors():
        m = load_model(model)
        if as_json:
            out.print_json(json.dumps(m.to_json()))
            return
        met, cert = m.metrics, m.certificate
        t = Table(title=f"model {model}", show_header=False, title_justify="left")
        t.add_column(style="bold")
        t.add_column()
        t.add_row("target", m.manifest.target)
        t.add_row("alpha", f"{m.alpha:.6g}")
        t.add_row("l1_ratio", f"{m.l1_ratio:g}")
        t.add_row("selection", f"{m.params.get('selection')} over l1_ratio "
                               f"{m.params.get('l1_ratios')} x {m.params.get('n_alphas')} alphas, "
                               f"{m.params.get('folds')} folds")
        t.add_row("CV MSE", f"{met['cv_mse']:.6g} +- {met['cv_mse_se']:.3g} (SE)")
        t.add_row("CV RMSE", f"{met['cv_rmse']:.6g}")
        t.add_row("nonzero", f"{m.n_nonzero} of {len(m.features)}")
        t.add_row("intercept", f"{m.intercept:.8g}")
        t.add_row("standardize", str(m.params.get("standardize")))
        t.add_row("certificate", f"converged={cert['converged']}  duality gap "
                                 f"{cert['duality_gap']:.3e} (relative {cert['relative_gap']:.2e}, "
                                 f"tol {cert['tol']:g})  KKT violation "
                                 f"{cert['kkt_violation']:.2e}  sweeps {cert['n_iter']}")
        lin = m.lineage.get("data", {})
        t.add_row("trained on", f"{lin.get('path')} ({lin.get('rows')} rows, sha256 "
                                f"{str(lin.get('sha256'))[:12]}...) at {m.lineage.get('created')}")
        out.print(t)
        c = Table(title="nonzero coefficients (by |standardised coefficient|)",
                  title_justify="left")
        c.add_column("feature")
        c.add_column("coef", justify="right")
        c.add_column("standardised", justify="right")
        for name, raw, std in m.nonzero_coefficients()[:top]:
            c.add_row(name, f"{raw:.8g}", f"{std:.6g}")
        out.print(c)


def main() -> None:
    """Entry point of the ``enet`` script."""
    import warnings

    np.seterr(all="ignore")
    warnings.showwarning = _show_warning
    warnings.simplefilter("ignore", RuntimeWarning)
    app(prog_name="enet")


if __name__ == "__main__":
    main()
    sys.exit(0)
