"""enet: exact Elastic Net from raw tabular data to a monitored production model."""

from enet.artifact import load_model, save_model
from enet.core.naive import solve_path as enet_path
from enet.data.encode import ScoreCounts
from enet.estimators import ElasticNet, ElasticNetCV
from enet.exceptions import ConvergenceWarning, DataError, EnetError, UsageError
from enet.model import Model
from enet.train import TrainConfig, train_model

__version__ = "0.1.0"
__all__ = ["ElasticNet", "ElasticNetCV", "enet_path", "train_model", "TrainConfig", "Model",
           "load_model", "save_model", "ScoreCounts", "ConvergenceWarning", "EnetError",
           "DataError", "UsageError", "__version__"]
