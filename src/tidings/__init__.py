"""tidings: a self-hostable automated news aggregator."""

__version__ = "0.1.0"
