"""MLflow interoperability (optional extra ``enet[mlflow]``).

:func:`export_mlflow` writes an MLflow pyfunc model whose flavor loads the enet artifact
through this module (``loader_module``): no Python object is pickled, the artifact is
copied as is and verified on load, and the input signature lists the model's input
columns. :func:`log_to_mlflow` records a training run (parameters, metrics, artifact)
in an MLflow tracking store.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pandas as pd

from enet.artifact import load_model, save_model
from enet.exceptions import UsageError
from enet.model import Model

__all__ = ["export_mlflow", "log_to_mlflow"]

_MLFLOW_TYPES = {"numeric": "double", "boolean": "boolean", "categorical": "string"}


def _mlflow():
    try:
        import mlflow
    except ImportError:
        raise UsageError("MLflow is not installed: pip install 'enet[mlflow]'") from None
    return mlflow


class _EnetPyfunc:
    """What ``mlflow.pyfunc.load_model`` returns the predictions of."""

    def __init__(self, model: Model):
        self.model = model

    def predict(self, model_input, params=None):
        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame(model_input)
        return pd.DataFrame({"prediction": self.model.predict(model_input)})


def _load_pyfunc(data_path: str) -> _EnetPyfunc:
    """MLflow's loader hook: the verified enet artifact stored in the MLflow model."""
    return _EnetPyfunc(load_model(data_path))


def export_mlflow(model: Model, out_dir: str | os.PathLike) -> str:
    """Write ``model`` as an MLflow pyfunc model directory (must not exist yet).

    Returns
    -------
    str
        The directory written.
    """
    mlflow = _mlflow()
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    out_dir = os.fspath(out_dir)
    if os.path.exists(out_dir):
        raise UsageError(f"{out_dir} exists; choose a new directory for the MLflow model")
    signature = ModelSignature(
        inputs=Schema([ColSpec(_MLFLOW_TYPES[c.kind], c.name) for c in model.inputs]),
        outputs=Schema([ColSpec("double", "prediction")]))
    with tempfile.TemporaryDirectory() as tmp:
        artifact = os.path.join(tmp, "enet_model")
        save_model(model, artifact)
        from enet import __version__
        mlflow.pyfunc.save_model(out_dir, loader_module="enet.mlflow_export",
                                 data_path=artifact, signature=signature,
                                 pip_requirements=[f"enet=={__version__}"])
    return out_dir


def log_to_mlflow(model: Model, model_dir: str | os.PathLike, tracking_uri: str,
                  experiment: str = "enet") -> str:
    """Log a trained model's parameters, metrics and artifact as an MLflow run.

    Returns
    -------
    str
        The run id.
    """
    mlflow = _mlflow()
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    params = {"alpha": model.alpha, "l1_ratio": model.l1_ratio,
              **{k: v for k, v in model.params.items()
                 if k in ("folds", "n_alphas", "standardize", "selection", "target", "impute",
                          "min_frequency", "solver", "seed")}}
    metrics = {k: float(v) for k, v in model.metrics.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)}
    with mlflow.start_run() as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.log_artifacts(os.fspath(model_dir), artifact_path="enet_model")
    return run.info.run_id
