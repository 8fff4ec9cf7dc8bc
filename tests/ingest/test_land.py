import csv
import gzip
import hashlib
import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import CASES, rows
from rich.console import Console

from ingest.contracts import load_contracts, parse_contract
from ingest.errors import IngestError
from ingest.run import ensure_lake, ingest_paths
from warehouse.config import Settings

ORDERS_HEADER = (
    "order_id,customer_id,customer_email,customer_phone,customer_name,country,order_date,status,amount,cost,"
    "currency,sales_channel,item_count,updated_at"
)


FULL_GZIP = gzip.compress("".join(f"O-{i},{i * 7919 % 10007}.{i % 100}\n" for i in range(5000)).encode())
TRUNCATED_GZIP = FULL_GZIP[: len(FULL_GZIP) // 2]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def order_line(order_id: str, amount: str = "10.00", name: str = "Ann") -> str:
    return f"{order_id},C1,ann@example.com,,{name},US,2025-01-02T03:04:05Z,paid,{amount},,USD,web,1,"


def manifest(settings: Settings) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((settings.lake_dir / "_manifest").glob("*.json"))]


def test_rows_are_conserved_for_every_file_and_recorded(settings: Settings, case_inbox: Path) -> None:
    report = ingest_paths(settings)
    assert {(f.source, f.object) for f in report.files} == {
        ("billing", "order"),
        ("contact_center", "message"),
        ("hubspot", "deal"),
        ("hubspot", "deal_stage"),
        ("hubspot", "owner"),
        ("salesforce", "account"),
    }
    for f in report.files:
        assert f.rows_read == f.rows_landed + f.rows_rejected
        landed = rows(Path(f.landed_path)) if f.landed_path else []
        rejected = rows(Path(f.rejects_path)) if f.rejects_path else []
        assert (len(landed), len(rejected)) == (f.rows_landed, f.rows_rejected)
    with (CASES / "inbox" / "billing" / "orders.csv").open(encoding="utf-8-sig", newline="") as handle:
        records = list(csv.reader(handle))[1:]
    orders = next(f for f in report.files if f.object == "order")
    assert orders.rows_read == len(records) == 10
    records_by_file = {r["path"]: r for r in manifest(settings)}
    assert set(records_by_file) == {
        str(settings.inbox_dir / p)
        for p in (
            "billing/orders.csv",
            "contact_center/messages.jsonl",
            "hubspot/deals.jsonl",
            "hubspot/owners.jsonl",
            "salesforce/Account.csv",
        )
    }
    deals = records_by_file[str(settings.inbox_dir / "hubspot/deals.jsonl")]
    assert (deals["rows_read"], deals["rows_landed"], deals["rows_rejected"]) == (5, 2, 3)
    assert deals["children"][0]["object"] == "deal_stage"
    assert deals["children"][0]["rows_landed"] == 3
    assert report.to_dict()["totals"]["rows_read"] == sum(f.rows_read for f in report.files)


def test_lineage_columns_identify_file_load_row_and_raw_hash(settings: Settings, case_inbox: Path) -> None:
    path = case_inbox / "salesforce" / "Account.csv"
    (report,) = ingest_paths(settings, [path]).files
    landed = rows(settings.lake_dir / "salesforce" / "account" / f"{report.load_id}.parquet")
    assert [r["id"] for r in landed] == ["001A", "001B"]
    assert {r["_source_file"] for r in landed} == {str(path)}
    assert {r["_load_id"] for r in landed} == {report.load_id}
    assert [r["_row_number"] for r in landed] == [1, 2]
    with path.open(encoding="utf-8", newline="") as handle:
        first = next(r for i, r in enumerate(csv.reader(handle)) if i == 1)
    expected = hashlib.md5("\x1f".join(v if v != "" else "\x00" for v in first).encode()).hexdigest()
    assert landed[0]["_row_hash"] == expected
    assert landed[0]["_ingested_at"] is not None


def test_reingesting_an_identical_file_is_a_no_op(settings: Settings, case_inbox: Path) -> None:
    first = ingest_paths(settings)
    files_before = sorted(p.relative_to(settings.lake_dir) for p in settings.lake_dir.rglob("*.parquet"))
    second = ingest_paths(settings)
    assert {f.status for f in second.files} == {"skipped"}
    assert second.rows_read == 0 and second.exit_code == 0
    assert (
        sorted(p.relative_to(settings.lake_dir) for p in settings.lake_dir.rglob("*.parquet")) == files_before
    )
    assert len(manifest(settings)) == len({f.load_id for f in first.files})


def test_a_changed_file_with_the_same_name_is_a_new_load(settings: Settings) -> None:
    path = write(settings.inbox_dir / "billing" / "orders.csv", f"{ORDERS_HEADER}\n{order_line('O-1')}\n")
    (first,) = ingest_paths(settings).files
    write(path, f"{ORDERS_HEADER}\n{order_line('O-1', '11.00')}\n{order_line('O-2')}\n")
    (second,) = ingest_paths(settings).files
    assert first.load_id != second.load_id
    assert (second.status, second.rows_landed) == ("landed", 2)
    landed = rows(settings.lake_dir / "billing" / "order" / "*.parquet", order_by="_load_id, _row_number")
    assert len(landed) == 3
    assert len(manifest(settings)) == 2


def test_unchanged_files_are_recognised_by_their_identity_without_rereading(settings: Settings) -> None:
    """The manifest keeps each file's identity (inode, size, mtime): an unchanged file is not hashed
    again. The trade-off, as for make and rsync: a file rewritten in place with its size and mtime
    restored is taken for the old one; touching it (a new mtime) makes ingest read it again."""
    import os

    path = write(settings.inbox_dir / "billing" / "orders.csv", f"{ORDERS_HEADER}\n{order_line('O-1')}\n")
    (first,) = ingest_paths(settings).files
    (record,) = manifest(settings)
    info = path.stat()
    assert record["file_identity"] == {
        "device": info.st_dev,
        "inode": info.st_ino,
        "size": info.st_size,
        "mtime_ns": info.st_mtime_ns,
    }
    with path.open("r+b") as handle:  # same size, other bytes, mtime put back: not read again
        text = handle.read()
        handle.seek(0)
        handle.write(text.replace(b"O-1", b"O-9"))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    (second,) = ingest_paths(settings).files
    assert (second.status, second.load_id) == ("skipped", first.load_id)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    (third,) = ingest_paths(settings).files
    assert third.load_id != first.load_id and third.status == "landed"
    landed = rows(settings.lake_dir / "billing" / "order" / f"{third.load_id}.parquet")
    assert [r["order_id"] for r in landed] == ["O-9"]


def test_a_record_without_file_identity_learns_it_when_the_file_is_seen_again(settings: Settings) -> None:
    """Lakes ingested before identities were kept: the first skip of an unchanged file records it."""
    path = write(settings.inbox_dir / "billing" / "orders.csv", f"{ORDERS_HEADER}\n{order_line('O-1')}\n")
    (first,) = ingest_paths(settings).files
    record_path = settings.lake_dir / "_manifest" / f"{first.load_id}.json"
    record = json.loads(record_path.read_text())
    identity = record.pop("file_identity")
    record_path.write_text(json.dumps(record))
    (second,) = ingest_paths(settings).files
    assert second.status == "skipped"
    assert (
        json.loads(record_path.read_text())["file_identity"]
        == identity
        == {
            "device": path.stat().st_dev,
            "inode": path.stat().st_ino,
            "size": path.stat().st_size,
            "mtime_ns": path.stat().st_mtime_ns,
        }
    )


def test_schema_drift_is_kept_and_reported(settings: Settings, case_inbox: Path) -> None:
    (report,) = ingest_paths(settings, [case_inbox / "salesforce" / "Account.csv"]).files
    assert report.drift_columns == ["mc_4_sf_mc_subscriber_c"]
    landed = rows(settings.lake_dir / "salesforce" / "account" / f"{report.load_id}.parquet")
    assert [r["mc_4_sf_mc_subscriber_c"] for r in landed] == ["x1", None]
    assert manifest(settings)[0]["drift_columns"] == ["mc_4_sf_mc_subscriber_c"]


def test_missing_required_column_rejects_the_whole_file(settings: Settings) -> None:
    header = ORDERS_HEADER.replace("amount,", "")
    line = order_line("O-1").replace(",10.00,", ",")
    write(settings.inbox_dir / "billing" / "orders.csv", f"{header}\n{line}\n{line.replace('O-1', 'O-2')}\n")
    report = ingest_paths(settings)
    (f,) = report.files
    assert (f.status, f.rows_read, f.rows_landed, f.rows_rejected) == ("rejected", 2, 0, 2)
    assert f.message == "file rejected: required column 'amount' missing from the file"
    rejected = rows(settings.lake_dir / "_rejects" / "billing" / "order" / "*.parquet")
    assert [r["order_id"] for r in rejected] == ["O-1", "O-2"]
    assert not list((settings.lake_dir / "billing" / "order").glob(f"{f.load_id}.parquet"))
    assert report.exit_code == 1


@pytest.mark.parametrize("name", ["messages_2026-11-22.jsonl", "messages_2026-11-22.jsonl.gz"])
def test_an_empty_json_lines_delta_is_an_empty_load_not_a_broken_file(settings: Settings, name: str) -> None:
    path = settings.inbox_dir / "contact_center" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(b"") if name.endswith(".gz") else b"")
    report = ingest_paths(settings)
    (landed,) = report.files
    assert (landed.status, landed.rows_read, landed.rows_landed, landed.rows_rejected) == ("landed", 0, 0, 0)
    assert report.exit_code == 0
    assert path.exists()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("orders.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary content"),
        ("orders.csv.gz", TRUNCATED_GZIP, "truncated or corrupt gzip"),
        (
            "orders.csv",
            ORDERS_HEADER.encode() + b"\nO-1,C1,a@b.com,,Jos\xe9,US,2025-01-01,paid,1,,USD,web,1,\n",
            "not valid utf-8 text (first bad line 2)",
        ),
        ("orders.csv", b"", "empty file"),
        ("orders.parquet", b"PAR1 this is not parquet", "not a readable Parquet file"),
        ("orders.docx", b"hello", "unsupported file type"),
    ],
)
def test_unreadable_files_are_quarantined_with_a_reason(
    settings: Settings, name: str, content: bytes, reason: str
) -> None:
    good = write(
        settings.inbox_dir / "billing" / "order_2026-11-21.csv", f"{ORDERS_HEADER}\n{order_line('O-9')}\n"
    )
    bad = settings.inbox_dir / "billing" / name
    bad.write_bytes(content)
    report = ingest_paths(settings)
    by_name = {Path(f.path).name: f for f in report.files}
    assert by_name[good.name].status == "landed"
    assert by_name[name].status == "quarantined"
    assert reason in by_name[name].message
    assert not bad.exists()
    quarantined = settings.lake_dir / "_quarantine" / name
    assert quarantined.read_bytes() == content
    info = json.loads((settings.lake_dir / "_quarantine" / f"{name}.reason.json").read_text())
    assert reason in info["reason"]
    assert info["sha256"] == hashlib.sha256(content).hexdigest()
    assert report.exit_code == 1


def test_unknown_source_directory_is_quarantined(settings: Settings) -> None:
    path = write(settings.inbox_dir / "erp" / "invoices.csv", "id\n1\n")
    (f,) = ingest_paths(settings).files
    assert f.status == "quarantined"
    assert "unknown source" in f.message
    assert not path.exists()
    assert (settings.lake_dir / "_quarantine" / "invoices.csv.reason.json").exists()


def test_file_of_a_known_source_without_contract_lands_uncontracted(settings: Settings) -> None:
    write(
        settings.inbox_dir / "fivetran_hubspot" / "email_event.csv",
        "id,type,created\ne1,OPEN,2020-01-01\ne2,CLICK,\n",
    )
    report = ingest_paths(settings)
    (f,) = report.files
    assert (f.source, f.object, f.status, f.rows_landed) == ("hubspot", "email_event", "uncontracted", 2)
    landed = rows(settings.lake_dir / "hubspot" / "email_event" / "*.parquet")
    assert [(r["id"], r["type"], r["created"]) for r in landed] == [
        ("e1", "OPEN", "2020-01-01"),
        ("e2", "CLICK", None),
    ]
    assert report.exit_code == 0


def test_bom_utf16_and_embedded_newlines(settings: Settings) -> None:
    text = f"{ORDERS_HEADER}\n{order_line('O-1', name=chr(34) + 'Ann' + chr(10) + 'Lee' + chr(34))}\n{order_line('O-2', name='José')}\n"
    write(settings.inbox_dir / "billing" / "orders_2026-11-01.csv", text, "utf-8-sig")
    write(settings.inbox_dir / "billing" / "orders_2026-11-02.csv", text, "utf-16")
    report = ingest_paths(settings)
    assert [(f.status, f.rows_landed) for f in report.files] == [("landed", 2), ("landed", 2)]
    landed = rows(settings.lake_dir / "billing" / "order" / "*.parquet", order_by="_source_file, _row_number")
    assert [r["customer_name"] for r in landed] == ["Ann\nLee", "José", "Ann\nLee", "José"]
    assert all(r["order_id"] in ("O-1", "O-2") for r in landed)


def test_latin1_is_read_only_when_the_contract_declares_it(settings: Settings) -> None:
    contracts = load_contracts()
    billing = yaml_like(contracts)
    billing["encoding"] = "latin-1"
    contracts["billing"] = parse_contract(billing, "billing.yml")
    write(
        settings.inbox_dir / "billing" / "orders.csv",
        f"{ORDERS_HEADER}\n{order_line('O-1', name='José')}\n",
        "latin-1",
    )
    (f,) = ingest_paths(settings, contracts=contracts).files
    assert f.status == "landed"
    assert rows(settings.lake_dir / "billing" / "order" / "*.parquet")[0]["customer_name"] == "José"


def yaml_like(contracts: dict) -> dict:
    import yaml

    return yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "ingest" / "contracts" / "billing.yml").read_text()
    )


def test_gzip_json_array_and_parquet_inputs(settings: Settings, tmp_path: Path) -> None:
    csv_text = f"{ORDERS_HEADER}\n{order_line('O-1')}\n{order_line('O-2', 'N/A')}\n"
    gz = settings.inbox_dir / "billing" / "orders_2026-11-20.csv.gz"
    gz.parent.mkdir(parents=True)
    gz.write_bytes(gzip.compress(csv_text.encode()))
    records = [
        {
            "message_id": "m1",
            "thread_id": "t",
            "channel": "SMS",
            "direction": "inbound",
            "sent_at": "2025-01-01T00:00:00Z",
        },
        {"message_id": "m2", "thread_id": "t"},
    ]
    write(settings.inbox_dir / "contact_center" / "messages.json", json.dumps(records))
    parquet = settings.inbox_dir / "billing" / "orders_20261121.parquet"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT 'P-1' AS order_id, TIMESTAMP '2025-01-01 10:00:00' AS order_date, 12.5 AS amount, "
        f"'usd' AS currency, 3 AS item_count) TO '{parquet}' (FORMAT parquet)"
    )
    report = ingest_paths(settings)
    got = {Path(f.path).name: (f.status, f.rows_read, f.rows_landed, f.rows_rejected) for f in report.files}
    assert got == {
        "orders_2026-11-20.csv.gz": ("landed_with_rejects", 2, 1, 1),
        "messages.json": ("landed_with_rejects", 2, 1, 1),
        "orders_20261121.parquet": ("landed", 1, 1, 0),
    }
    landed = {r["order_id"]: r for r in rows(settings.lake_dir / "billing" / "order" / "*.parquet")}
    assert landed["P-1"]["currency"] == "USD" and landed["P-1"]["item_count"] == 3
    assert str(landed["P-1"]["order_date"]) == "2025-01-01 10:00:00"


def test_jsonl_invalid_lines_are_rejected_rows_and_children_explode(
    settings: Settings, case_inbox: Path
) -> None:
    report = ingest_paths(settings, [case_inbox / "hubspot" / "deals.jsonl"])
    deal, stage = report.files
    assert (deal.rows_read, deal.rows_landed, deal.rows_rejected) == (5, 2, 3)
    assert dict(deal.top_reasons) == {
        "invalid JSON": 1,
        "not a JSON object": 1,
        "property_amount: cannot parse 'abc' as decimal": 1,
    }
    deals = {r["id"]: r for r in rows(settings.lake_dir / "hubspot" / "deal" / "*.parquet")}
    assert (deals["101"]["company_id"], deals["101"]["contact_id"]) == ("201", "301")
    assert deals["101"]["property_deal_currency_code"] == "USD"
    assert deal.drift_columns == ["property_hs_all_funky_a_9384_syntax"]
    stages = rows(settings.lake_dir / "hubspot" / "deal_stage" / "*.parquet")
    assert [(r["deal_id"], r["value"], r["source_type"]) for r in stages] == [
        ("101", "appointmentscheduled", "CRM_UI"),
        ("101", "closedwon", "CRM_UI"),
        ("102", "qualifiedtobuy", "API"),
    ]
    assert (stage.object, stage.rows_landed) == ("deal_stage", 3)


def test_ensure_lake_writes_typed_empty_files(settings: Settings) -> None:
    written = ensure_lake(settings)
    contracts = load_contracts()
    assert len(written) == sum(len(c.objects) for c in contracts.values())
    con = duckdb.connect()
    described = dict(
        (name, kind)
        for name, kind, *_ in con.execute(
            f"DESCRIBE SELECT * FROM '{settings.lake_dir}/billing/order/*.parquet'"
        ).fetchall()
    )
    assert described["amount"] == "DECIMAL(18,4)"
    assert described["customer_email_is_valid"] == "BOOLEAN"
    assert described["_ingested_at"] == "TIMESTAMP"
    assert (
        con.execute(f"SELECT count(*) FROM '{settings.lake_dir}/billing/order/*.parquet'").fetchone()[0] == 0
    )


def test_report_renders_and_serialises(settings: Settings, case_inbox: Path) -> None:
    report = ingest_paths(settings)
    console = Console(record=True, width=200)
    console.print(report.render())
    text = console.export_text()
    assert "billing.order" in text and "amount: cannot parse 'N/A' as decimal" in text
    data = json.loads(json.dumps(report.to_dict(), default=str))
    assert data["exit_code"] == 1
    assert data["totals"]["rows_read"] == data["totals"]["rows_landed"] + data["totals"]["rows_rejected"]


def test_missing_inbox_is_a_clear_error(settings: Settings) -> None:
    shutil.rmtree(settings.inbox_dir)
    with pytest.raises(IngestError, match="no such file or directory"):
        ingest_paths(settings)


def test_semicolon_files_are_sniffed_and_decimal_commas_never_guessed(settings: Settings) -> None:
    write(
        settings.inbox_dir / "billing" / "orders.csv",
        'order_id;order_date;amount;currency\r\nO1;2025-01-01;"1,5";EUR\r\nO2;2025-01-02;2.5;EUR\r\n',
    )
    (f,) = ingest_paths(settings).files
    assert (f.rows_landed, f.rows_rejected) == (1, 1)
    assert f.top_reasons == [("amount: cannot parse '1,5' as decimal", 1)]
    assert [
        (r["order_id"], str(r["amount"])) for r in rows(settings.lake_dir / "billing" / "order" / "*.parquet")
    ] == [("O2", "2.5000")]


def test_files_without_records_land_nothing_and_count_nothing(settings: Settings) -> None:
    write(settings.inbox_dir / "billing" / "orders.csv", ORDERS_HEADER + "\n")
    write(settings.inbox_dir / "contact_center" / "messages.jsonl", "\n\n")
    report = ingest_paths(settings)
    assert [(f.status, f.rows_read) for f in report.files] == [("landed", 0), ("landed", 0)]
    assert report.exit_code == 0


def test_identical_files_landed_at_once_land_one_load(settings: Settings) -> None:
    """Files land concurrently (ingest.files_at_once): copies of one file in one run still give one
    load, the others are reported as skipped, and rows are not landed twice."""
    text = f"{ORDERS_HEADER}\n" + "".join(f"{order_line(f'O-{i}')}\n" for i in range(2000))
    for name in ("orders.csv", "orders_2026-11-20.csv", "orders_2026-11-21.csv", "orders_2026-11-22.csv"):
        write(settings.inbox_dir / "billing" / name, text)
    report = ingest_paths(settings)
    assert sorted(f.status for f in report.files) == ["landed", "skipped", "skipped", "skipped"]
    assert len({f.load_id for f in report.files}) == 1
    landed = rows(settings.lake_dir / "billing" / "order" / "*.parquet")
    assert len(landed) == 2000
    assert len(manifest(settings)) == 1


def test_each_concurrent_connection_gets_its_share_of_the_memory_limit_and_threads() -> None:
    from ingest.config import EngineConfig, memory_bytes

    engine = EngineConfig(memory_limit="2GB", threads=4, files_at_once=2)
    assert engine.per_connection(2).memory_limit == f"{2 * 1000**3 // 2 // 2**20}MiB"
    assert engine.per_connection(2).threads == 2
    assert engine.per_connection(3).threads == 1
    assert engine.per_connection(8).threads == 1
    assert engine.per_connection(1) == engine
    all_cores = EngineConfig(threads=0)
    assert all_cores.per_connection(2).threads == max(1, (os.cpu_count() or 1) // 2)
    assert all_cores.per_connection(1).threads == 0
    assert memory_bytes("1.5GiB") == int(1.5 * 2**30)
    with pytest.raises(IngestError, match="not a memory size"):
        memory_bytes("lots")


def test_the_last_running_file_gets_the_threads_of_the_workers_that_finished(tmp_path: Path) -> None:
    import threading
    import time

    from ingest.config import EngineConfig
    from ingest.run import _Workers

    large_started, small_done = threading.Event(), threading.Event()
    seen: dict[str, list[int]] = {}

    def threads(con: duckdb.DuckDBPyConnection) -> int:
        return int(con.execute("SELECT current_setting('threads')").fetchone()[0])

    def work(index: int, con: duckdb.DuckDBPyConnection) -> list:
        if index == 1:
            assert large_started.wait(10)
            small_done.set()
            return []
        # The "large file": started first, still running when the small one ends and nothing waits.
        seen["large"] = [threads(con)]
        large_started.set()
        assert small_done.wait(10)
        deadline = time.monotonic() + 10
        while threads(con) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        seen["large"].append(threads(con))
        return []

    with _Workers(tmp_path / "lake", EngineConfig(threads=4, files_at_once=2), 2) as workers:
        list(workers.map(work, [0, 1]))
    assert seen["large"] == [2, 4]


def test_unreadable_files_of_one_name_landed_at_once_are_both_quarantined(settings: Settings) -> None:
    first = b"\x00\x01binary one" * 100
    second = b"\x00\x02binary two" * 100
    for folder, content in (("salesforce", first), ("fivetran_salesforce", second)):
        path = settings.inbox_dir / folder / "Account.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    report = ingest_paths(settings)
    assert [f.status for f in report.files] == ["quarantined", "quarantined"]
    kept = sorted(
        p.read_bytes() for p in (settings.lake_dir / "_quarantine").iterdir() if not p.name.endswith(".json")
    )
    assert kept == sorted([first, second])


def test_standardised_columns_match_the_libraries_row_by_row(settings: Settings) -> None:
    """The mapping tables are keyed by the raw value: variants of one value (spaces, case, the country
    beside a national number) must each get what the library says for that row."""
    from ingest.standardise import (
        country_code,
        currency_code,
        standardise_country,
        standardise_email,
        standardise_phone,
    )

    cases = [
        ("Ann@Example.com", "+1 415 555 2671", "US", "usd"),
        ("  ann@example.com ", " +1 415 555 2671", "United Kingdom", "USD"),
        ("ann@example.com", "(415) 555-2671", "US", "$"),
        ("ann@example.com", "(415) 555-2671", "GB", "EUR"),
        ("ann@example.com", "020 7946 0958", "GB", "gbp"),
        ("ann@example.com", "020 7946 0958", "", "GBP"),
        ("not an address", "   ", "Atlantis", "EUR"),
        ("", "+44 20 7946 0958", "USA", "EUR"),
        ("bob@example..com", "12", "germany", "EUR"),
    ]
    lines = [
        f"O-{i},C1,{email},{phone},Ann,{country},2025-01-02T03:04:05Z,paid,10.00,,{currency},web,1,"
        for i, (email, phone, country, currency) in enumerate(cases)
    ]
    write(settings.inbox_dir / "billing" / "orders.csv", ORDERS_HEADER + "\n" + "\n".join(lines) + "\n")
    report = ingest_paths(settings)
    assert report.rows_landed == len(cases)
    landed = {r["order_id"]: r for r in rows(settings.lake_dir / "billing" / "order" / "*.parquet")}
    for i, (email, phone, country, currency) in enumerate(cases):
        row = landed[f"O-{i}"]
        expected_email = standardise_email(email) if email.strip() else (None, None)
        assert (row["customer_email"], row["customer_email_is_valid"]) == expected_email, row
        region = country_code(country) if country.strip() and not phone.strip().startswith("+") else None
        expected_phone = standardise_phone(phone, region) if phone.strip() else (None, None)
        assert (row["customer_phone"], row["customer_phone_is_valid"]) == expected_phone, row
        expected_country = standardise_country(country) if country.strip() else (None, None)
        assert (row["country"], row["country_is_valid"]) == expected_country, row
        assert row["currency"] == currency_code(currency), row


def test_phone_columns_sharing_a_country_column_share_one_mapping_without_fan_out(settings: Settings) -> None:
    """Contact.Phone and Contact.MobilePhone are standardised through one mapping table (one compilation
    of the phone patterns): the same raw number in both columns, or with two countries, must neither
    duplicate a row nor take another row's answer."""
    from ingest.standardise import country_code, standardise_phone

    cases = [
        ("+1 415 555 2671", "+1 415 555 2671", "US"),
        ("020 7946 0958", "(415) 555-2671", "GB"),
        ("020 7946 0958", "020 7946 0958", "United Kingdom"),
        ("(415) 555-2671", "", "US"),
        ("", "+44 20 7946 0958", "Germany"),
        ("12", "not a number", "US"),
    ]
    header = "Id,LastName,Phone,MobilePhone,MailingCountry,CreatedDate"
    lines = [
        f"003{i},Doe,{phone},{mobile},{country},2025-01-02T03:04:05.000Z"
        for i, (phone, mobile, country) in enumerate(cases)
    ]
    write(settings.inbox_dir / "salesforce" / "Contact.csv", header + "\n" + "\n".join(lines) + "\n")
    report = ingest_paths(settings)
    assert (report.rows_read, report.rows_landed) == (len(cases), len(cases))
    landed = rows(settings.lake_dir / "salesforce" / "contact" / "*.parquet")
    assert sorted(r["id"] for r in landed) == [f"003{i}" for i in range(len(cases))]
    by_id = {r["id"]: r for r in landed}
    for i, (phone, mobile, country) in enumerate(cases):
        row = by_id[f"003{i}"]
        for column, value in (("phone", phone), ("mobile_phone", mobile)):
            region = country_code(country) if not value.startswith("+") else None
            expected = standardise_phone(value, region) if value else (None, None)
            assert (row[column], row[f"{column}_is_valid"]) == expected, (column, row)
