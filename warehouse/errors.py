"""Errors raised by the warehouse package. Each carries a message a user can act on."""


class WarehouseError(Exception):
    """Base error of the warehouse package; the CLI prints its message without a traceback."""

    exit_code = 2


class ConfigError(WarehouseError):
    """The configuration file or an environment override is invalid."""
