"""Real connector samples (../shared/samples): every file ingests as its own object, nothing is lost."""

import csv
from pathlib import Path

import pytest
from conftest import SAMPLES, rows

from ingest.contracts import load_contracts
from ingest.names import object_name
from ingest.run import ingest_paths
from warehouse.config import Settings

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"connector samples not found at {SAMPLES}")

SOURCES = {"fivetran_salesforce": "salesforce", "fivetran_hubspot": "hubspot"}


def sample_files() -> list[Path]:
    return sorted(p for folder in SOURCES for p in (SAMPLES / folder).glob("*.csv"))


def csv_records(path: Path) -> int:
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def test_every_sample_ingests_as_its_object_and_conserves_rows(settings: Settings) -> None:
    files = sample_files()
    assert len(files) >= 30
    report = ingest_paths(settings, files)
    contracts = load_contracts()
    by_path = {Path(f.path): f for f in report.files}
    assert set(by_path) == set(files)
    for path, f in by_path.items():
        source = SOURCES[path.parent.name]
        contract = contracts[source].object_for_file(object_name(path))
        assert f.source == source
        assert f.object == (contract.name if contract else object_name(path)), path
        assert f.status != "quarantined", (path, f.message)
        assert f.status == ("uncontracted" if contract is None else f.status)
        assert f.rows_read == f.rows_landed + f.rows_rejected == csv_records(path), path
    assert by_path[SAMPLES / "fivetran_hubspot" / "email_event.csv"].status == "uncontracted"
    assert by_path[SAMPLES / "fivetran_salesforce" / "account.csv"].status == "landed"


def test_connector_values_are_typed(settings: Settings) -> None:
    ingest_paths(
        settings, [SAMPLES / "fivetran_hubspot" / "company.csv", SAMPLES / "fivetran_hubspot" / "contact.csv"]
    )
    companies = rows(settings.lake_dir / "hubspot" / "company" / "*.parquet")
    first = companies[0]
    assert first["id"] == "2182162682"
    assert str(first["property_createdate"]) == "2019-07-05 20:35:26"
    assert first["archived"] is False  # from is_deleted = "false"
    assert (first["property_country"], first["property_country_is_valid"]) == ("US", True)
    assert first["property_hs_all_funky_a_9384_syntax"] == "23"
    assert str(first["_fivetran_synced"]) == "2020-12-30 3:15:52"  # drift stays raw VARCHAR
    contacts = rows(settings.lake_dir / "hubspot" / "contact" / "*.parquet")
    assert {c["archived"] for c in contacts} == {False}  # from _fivetran_deleted = "FALSE"
    assert all(
        c["property_email_is_valid"] is False for c in contacts if c["property_email"]
    )  # hashed values
