"""Errors raised by the cube layer. Each message names the cube, measure or level at fault."""


class CubeError(Exception):
    """Base error of the cubes package; the CLI prints its message without a traceback."""

    exit_code = 2


class DefinitionError(CubeError):
    """A cube definition (YAML) is inconsistent or does not match the warehouse schema."""


class QueryError(CubeError):
    """A query names something the cube does not have, or combines things that cannot be combined."""
