"""Errors raised by the ingest package. Each message says what is wrong and what to change."""


class IngestError(Exception):
    """Base error of the ingest package; the CLI prints its message without a traceback."""

    exit_code = 2


class ContractError(IngestError):
    """A contract file under ``ingest/contracts/`` is invalid."""


class UnreadableFileError(IngestError):
    """An input file cannot be read at all (binary, truncated, undecodable): it goes to quarantine."""


class ConservationError(IngestError):
    """Rows read != rows landed + rows rejected: a bug, never a data problem; nothing is recorded."""
