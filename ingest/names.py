"""Names: column headers to snake_case (as managed connectors land them) and file names to objects."""

from __future__ import annotations

import re
from pathlib import Path

_LOWER_UPPER = re.compile(r"([a-z])([A-Z])")
_ACRONYM_END = re.compile(r"([A-Z]+)([A-Z][a-z])")
_LETTER_DIGIT = re.compile(r"([A-Za-z])([0-9])")
_DIGIT_LETTER = re.compile(r"([0-9])([A-Za-z])")
_NON_WORD = re.compile(r"[^0-9A-Za-z]+")
_DATE_SUFFIX = re.compile(r"[_\-.](\d{4}-\d{2}-\d{2}|\d{8})$")

COMPRESSIONS = (".gz",)
FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
}


def snake_case(name: str) -> str:
    """``AccountId`` -> ``account_id``, ``Product2Id`` -> ``product_2_id``, ``Region__c`` -> ``region_c``.

    A leading underscore survives (``_fivetran_synced``): connectors mark their own columns that way.
    """
    text = name.strip()
    leading = "_" if text.startswith("_") else ""
    text = _ACRONYM_END.sub(r"\1_\2", text)
    text = _LOWER_UPPER.sub(r"\1_\2", text)
    text = _LETTER_DIGIT.sub(r"\1_\2", text)
    text = _DIGIT_LETTER.sub(r"\1_\2", text)
    text = _NON_WORD.sub("_", text).strip("_").lower()
    return (leading + text) if text else (leading or "column")


def unique_names(names: list[str]) -> list[str]:
    """Make normalised names unique in order: a second ``email`` becomes ``email_2``."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        candidate = name
        while candidate in seen:
            seen[name] += 1
            candidate = f"{name}_{seen[name]}"
        seen[candidate] = 1
        result.append(candidate)
    return result


def split_file_name(path: Path) -> tuple[str, str | None, str | None]:
    """(stem, format, compression) of ``Account_2026-11-21.csv.gz`` -> (``Account_2026-11-21``, csv, gzip)."""
    name = path.name
    compression = None
    for suffix in COMPRESSIONS:
        if name.lower().endswith(suffix):
            compression = "gzip"
            name = name[: -len(suffix)]
    dot = name.rfind(".")
    if dot <= 0:
        return name, None, compression
    return name[:dot], FORMATS.get(name[dot:].lower()), compression


def object_name(path: Path) -> str:
    """The object a file holds: snake_case of its stem without a trailing delivery date."""
    stem, _, _ = split_file_name(path)
    return snake_case(_DATE_SUFFIX.sub("", stem))
