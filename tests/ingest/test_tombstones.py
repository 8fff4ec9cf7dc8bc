"""Ingest honours erasure tombstones: a tombstoned person's rows land nowhere, not even in the rejects,
and are counted as erased so the manifest still reconciles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from ingest.manifest import read_manifest
from ingest.run import ingest_paths
from ingest.tombstones import ERASED_REASON, TombstoneError, Tombstones, read_tombstone_hashes
from warehouse.config import Settings
from warehouse.privacy import pii_hash, pii_hash_sql

CASES = Path(__file__).resolve().parents[1] / "cases" / "privacy"
SALT = "test-salt"
ERASED_IDENTIFIERS = (
    "erin.erased@example.com",
    "salesforce:contact:0038d00000000ERASE",
    "hubspot:contact:100001",
    "billing:customer:CUS-ERASE",
    "12125550101",
)


def tombstones(identifiers: tuple[str, ...] = ERASED_IDENTIFIERS) -> Tombstones:
    return Tombstones(
        hashes=frozenset(pii_hash(i, SALT) for i in identifiers),  # type: ignore[misc]
        hash_sql=lambda sql: pii_hash_sql(sql, SALT),
    )


def texts(lake: Path, pattern: str) -> list[str]:
    """Every value of every row of the Parquet files under ``lake`` matching ``pattern``, as text."""
    con = duckdb.connect()
    found = []
    for path in sorted(lake.glob(pattern)):
        relation = con.execute(f"SELECT * FROM read_parquet('{path}')")
        found.extend(str(v) for row in relation.fetchall() for v in row if v is not None)
    return found


@pytest.fixture
def privacy_inbox(settings: Settings) -> Path:
    shutil.copytree(CASES / "inbox", settings.inbox_dir, dirs_exist_ok=True)
    return settings.inbox_dir


def test_tombstoned_rows_land_nowhere_and_counts_reconcile(settings: Settings, privacy_inbox: Path) -> None:
    report = ingest_paths(settings, tombstones=tombstones())
    by_object = {(f.source, f.object): f for f in report.files}
    manifest = {(r["source"], r["object"]): r for r in read_manifest(settings.lake_dir).values()}

    contact = manifest[("salesforce", "contact")]
    # Erin's own row goes (e-mail written with spaces and capitals); the rejected row without an id
    # stays a reject; a second "Erin Erased" with another e-mail and a phone written without its
    # country code is someone the tombstones cannot recognise, so it lands.
    assert (
        contact["rows_read"],
        contact["rows_landed"],
        contact["rows_rejected"],
        contact["rows_erased"],
    ) == (
        5,
        3,
        1,
        1,
    )
    order = manifest[("billing", "order")]
    # ORD-1 (e-mail, id, phone), ORD-2 (id only, and unparseable) and the malformed line naming the
    # e-mail are erased; ORD-3 stays rejected, ORD-4 lands.
    assert (order["rows_read"], order["rows_landed"], order["rows_rejected"], order["rows_erased"]) == (
        5,
        1,
        1,
        3,
    )
    deal = manifest[("hubspot", "deal")]
    assert (deal["rows_read"], deal["rows_landed"], deal["rows_erased"]) == (3, 1, 2)
    stages = deal["children"][0]
    assert stages["object"] == "deal_stage" and stages["rows_landed"] == 3  # only deal 900002's stages
    hs_contact = manifest[("hubspot", "contact")]
    assert (hs_contact["rows_landed"], hs_contact["rows_erased"]) == (1, 1)

    for record in manifest.values():
        for entry in (record, *record.get("children", [])):
            assert entry["rows_read"] == entry["rows_landed"] + entry["rows_rejected"] + entry.get(
                "rows_erased", 0
            )
    assert {"reason": ERASED_REASON, "rows": 3} in order["top_reasons"]
    # The report counts erased rows as rejected for the erasure reason.
    assert by_object[("billing", "order")].rows_rejected == 4
    assert dict(by_object[("billing", "order")].top_reasons)[ERASED_REASON] == 3

    landed = texts(settings.lake_dir, "*/*/*.parquet")
    rejected = texts(settings.lake_dir, "_rejects/*/*/*.parquet")
    everything = " ".join(landed + rejected).lower()
    for value in (
        "erin.erased@example.com",
        "0038d00000000erase",
        "cus-erase",
        "ord-1",
        "ord-2",
        "900001",
        "900003",
    ):
        assert value not in everything
    assert "ord-3" in " ".join(rejected).lower() and "kim.kept@example.com" in everything
    assert "0038d00000000eras2" in everything


def test_without_tombstones_ingest_lands_everyone(settings: Settings, privacy_inbox: Path) -> None:
    ingest_paths(settings, tombstones=tombstones(()))
    landed = " ".join(texts(settings.lake_dir, "*/*/*.parquet")).lower()
    assert "erin.erased@example.com" in landed and "900003" in landed


def test_ingest_honours_the_configured_tombstones_by_default(settings: Settings, privacy_inbox: Path) -> None:
    from warehouse.privacy import hash_salt, pii_hash

    path = settings.tombstones_path
    path.parent.mkdir(parents=True)
    erased = pii_hash("Erin.Erased@example.com", hash_salt(settings))
    path.write_text(json.dumps({"kind": "email", "hash": erased}) + "\n")
    ingest_paths(settings)
    landed = " ".join(texts(settings.lake_dir, "*/*/*.parquet")).lower()
    assert "erin.erased@example.com" not in landed
    assert "kim.kept@example.com" in landed


def test_a_damaged_tombstone_file_stops_ingest(tmp_path: Path) -> None:
    path = tmp_path / "tombstones.jsonl"
    path.write_text('{"kind": "email", "hash": "pii_1"}\nnot json\n')
    with pytest.raises(TombstoneError, match="line 2"):
        read_tombstone_hashes(path)
    assert read_tombstone_hashes(tmp_path / "missing.jsonl") == frozenset()
