"""archspec: neural-network architectures as checked YAML specs, compiled to PyTorch and Flax."""

from .api import Network, Result, TransferError, analyze, build, compile, load, transfer
from .errors import Diagnostic, SpecError

__all__ = [
    "Diagnostic",
    "Network",
    "Result",
    "SpecError",
    "TransferError",
    "analyze",
    "build",
    "compile",
    "load",
    "transfer",
]
__version__ = "0.1.0"
