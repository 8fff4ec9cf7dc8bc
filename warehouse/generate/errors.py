"""Errors raised by ``crmwh generate``; each message says what to change."""

from warehouse.errors import WarehouseError


class GenerateError(WarehouseError):
    """The generator was asked for something it cannot produce (bad date, scale, rate...)."""
