"""kratix-sim: a simulation and conformance test harness for Kratix workflows."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kratix-sim")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
