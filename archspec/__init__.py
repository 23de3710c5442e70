"""archspec: neural-network architectures as checked YAML specs, compiled to PyTorch and Flax."""

from .api import Network, Result, analyze, build, compile, load
from .errors import Diagnostic, SpecError

__all__ = ["Diagnostic", "Network", "Result", "SpecError", "analyze", "build", "compile", "load"]
__version__ = "0.1.0"
