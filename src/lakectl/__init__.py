"""lakectl: sales spreadsheets → a local Delta lakehouse (bronze → silver → gold)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lakectl")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
