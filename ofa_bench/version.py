"""The version of ofa-bench, recorded with results and saved files."""

__version__ = "0.1.0"
