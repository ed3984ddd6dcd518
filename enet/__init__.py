"""enet: exact Elastic Net from raw tabular data to a monitored production model."""

from enet.core.path import enet_path
from enet.estimators import ElasticNet, ElasticNetCV
from enet.exceptions import ConvergenceWarning

__version__ = "0.1.0"
__all__ = ["ElasticNet", "ElasticNetCV", "enet_path", "ConvergenceWarning", "__version__"]
