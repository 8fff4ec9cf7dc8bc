"""crmwh: the warehouse package (CLI, configuration, orchestration)."""

__version__ = "0.1.0"
