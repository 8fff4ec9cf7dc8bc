"""crmwh generate: deterministic, contract-shaped, dirty on purpose, and consistent between full
extracts and nightly deltas."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from warehouse.config import PROJECT_ROOT
from warehouse.generate import GenerateError, generate_extracts

CONTRACTS = PROJECT_ROOT / "ingest" / "contracts"
BOM = b"\xef\xbb\xbf"
DELTA_SUFFIX = re.compile(r"_(\d{4}-\d{2}-\d{2})$")
STRUCTURAL_KEYS = {"properties", "associations", "propertiesWithHistory", "teams"}


def snake(name: str) -> str:
    """The landing convention: AccountId -> account_id, Region__c -> region_c, Product2Id -> product_2_id."""
    text = name.replace("__", "_")
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    text = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", text)
    text = re.sub(r"(?<=[A-Za-z])(?=\d)", "_", text)
    return re.sub(r"_+", "_", text).lower().strip("_")


def test_snake_helper_follows_the_landing_examples() -> None:
    assert snake("AccountId") == "account_id"
    assert snake("Region__c") == "region_c"
    assert snake("Product2Id") == "product_2_id"
    assert snake("createdAt") == "created_at"
    assert snake("SystemModstamp") == "system_modstamp"


def contract_objects() -> dict[tuple[str, str], dict]:
    """(source, file stem in snake_case) -> object contract."""
    found = {}
    for path in CONTRACTS.glob("*.yml"):
        spec = yaml.safe_load(path.read_text())
        for obj in spec["objects"].values():
            for stem in obj.get("files", []):
                found[(spec["source"], stem)] = obj
    return found


def object_of(path: Path) -> tuple[str, str]:
    stem = DELTA_SUFFIX.sub("", path.stem)
    return path.parent.name, snake(stem)


def read_csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    data = path.read_bytes()
    if data.startswith(BOM):
        data = data[len(BOM) :]
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    return rows[0], rows[1:]


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in all_files(root)}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    generate_extracts(root, scale="tiny", seed=42)
    return root


def test_same_seed_same_bytes_and_other_seed_differs(tiny: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    summary = generate_extracts(again, scale="tiny", seed=42)
    assert digest(again) == digest(tiny)
    assert len(summary.files) == 18
    other = tmp_path / "other"
    generate_extracts(other, scale="tiny", seed=7)
    differing = [k for k, v in digest(other).items() if digest(tiny).get(k) != v]
    assert len(differing) >= 15


def test_every_file_matches_its_contract(tiny: Path) -> None:
    contracts = contract_objects()
    checked = set()
    for path in all_files(tiny):
        source, stem = object_of(path)
        contract = contracts[(source, stem)]
        columns = list(contract["columns"])
        if path.suffix == ".csv":
            header, rows = read_csv_rows(path)
            assert [snake(h) for h in header] == columns, path.name
            assert rows, path.name
        else:
            records = [json.loads(line) for line in path.read_text().splitlines()]
            assert records, path.name
            _check_json_object(records, columns, contract, path.name)
            if stem == "deals":
                stage_contract = contracts[("hubspot", "deal_stage")]
                aliases = {
                    a: c for c, spec in stage_contract["columns"].items() for a in spec.get("aliases", [])
                }
                for record in records:
                    for entry in record["propertiesWithHistory"]["dealstage"]:
                        landed = {aliases.get(snake(k), snake(k)) for k in entry}
                        assert landed == set(stage_contract["columns"]) - {"deal_id"}
        checked.add((source, stem))
    assert len(checked) == 18


def _resolve(record: dict, path: str):
    value = record
    for part in re.findall(r"[A-Za-z_]+|\[\d+\]", path.removeprefix("$.")):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(value, list) or len(value) <= index:
                return None
            value = value[index]
        else:
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
    return value


def _check_json_object(records: list[dict], columns: list[str], contract: dict, name: str) -> None:
    expected_top = set()
    for column in columns:
        spec = contract["columns"][column]
        if "path" in spec:
            assert any(_resolve(r, spec["path"]) is not None for r in records), (name, column)
        elif column.startswith("property_"):
            assert all(column.removeprefix("property_") in r["properties"] for r in records), (name, column)
        else:
            expected_top.add(column)
    for record in records:
        top = {snake(k) for k in record if k not in STRUCTURAL_KEYS}
        assert top == expected_top, (name, top ^ expected_top)
        if "properties" in record:
            landed = {f"property_{k}" for k in record["properties"]}
            assert landed <= set(columns), (name, landed - set(columns))


def latest_rows(paths: list[Path]) -> dict[str, str]:
    """id -> the row's text, later files winning; rows without id and exact duplicates ignored."""
    latest: dict[str, str] = {}
    for path in paths:
        if path.suffix == ".csv":
            header, rows = read_csv_rows(path)
            key_col = header.index("Id") if "Id" in header else header.index("order_id")
            for row in rows:
                if row[key_col]:
                    latest[row[key_col]] = "\x1f".join(row)
        else:
            for line in path.read_text().splitlines():
                record = json.loads(line)
                key = (
                    record.get("id")
                    or record.get("message_id")
                    or (f"{record['canonical_vid']}>{record['vid_to_merge']}")
                )
                latest[key] = line
    return latest


def test_full_plus_deltas_equals_the_later_full(tmp_path: Path) -> None:
    start, end = date(2026, 9, 30), date(2026, 10, 20)
    generate_extracts(tmp_path / "full_start", customers=400, seed=3, as_of=start, full=True)
    generate_extracts(tmp_path / "deltas", customers=400, seed=3, as_of=end, days=(end - start).days)
    generate_extracts(tmp_path / "full_end", customers=400, seed=3, as_of=end, full=True)
    changed = 0
    for path in all_files(tmp_path / "full_end"):
        rel = path.relative_to(tmp_path / "full_end")
        deltas = sorted((tmp_path / "deltas" / rel.parent).glob(f"{path.stem}_*{path.suffix}"))
        assert len(deltas) == (end - start).days
        assert deltas[-1].name == f"{path.stem}_{end.isoformat()}{path.suffix}"
        merged = latest_rows([tmp_path / "full_start" / rel])
        delta_rows = latest_rows(deltas)
        changed += len(delta_rows)
        merged.update(delta_rows)
        assert merged == latest_rows([path]), str(rel)
    assert changed > 150


def test_a_delta_holds_only_that_days_changes(tmp_path: Path) -> None:
    day = date(2026, 10, 14)
    generate_extracts(tmp_path, customers=400, seed=3, as_of=day, dirt_rate=0)
    _, rows = read_csv_rows(tmp_path / "salesforce" / f"Task_{day}.csv")
    header, _ = read_csv_rows(tmp_path / "salesforce" / f"Task_{day}.csv")
    stamp = header.index("SystemModstamp")
    assert rows and all(r[stamp].startswith(day.isoformat()) for r in rows)
    messages = (tmp_path / "contact_center" / f"messages_{day}.jsonl").read_text().splitlines()
    assert messages and all(json.loads(m)["sent_at"].startswith(day.isoformat()) for m in messages)


def _email_dirty(value: str) -> bool:
    return (
        value != value.strip()
        or value != value.lower()
        or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", value)
    )


def _dirt_shares(root: Path) -> tuple[float, float]:
    emails: list[str] = []
    header, rows = read_csv_rows(root / "salesforce" / "Lead.csv")
    emails += [r[header.index("Email")] for r in rows]
    header, rows = read_csv_rows(root / "billing" / "orders.csv")
    unique = {tuple(r) for r in rows if r[0]}
    emails += [r[header.index("customer_email")] for r in unique]
    amounts = [r[header.index("amount")] for r in unique]
    bad_amounts = sum(not re.fullmatch(r"\d+\.\d{2}", a) for a in amounts)
    return sum(map(_email_dirty, emails)) / len(emails), bad_amounts / len(amounts)


def test_dirt_appears_at_roughly_the_configured_rate(tmp_path: Path) -> None:
    generate_extracts(tmp_path / "dirty", customers=1500, seed=5, dirt_rate=0.1)
    generate_extracts(tmp_path / "clean", customers=1500, seed=5, dirt_rate=0.0)
    email_share, amount_share = _dirt_shares(tmp_path / "dirty")
    assert 0.07 < email_share < 0.13
    assert 0.07 < amount_share < 0.13
    assert _dirt_shares(tmp_path / "clean") == (0.0, 0.0)
    contacts = [
        json.loads(line) for line in (tmp_path / "dirty/hubspot/contacts.jsonl").read_text().splitlines()
    ]
    assert any(c["archived"] for c in contacts)
    assert any(c["properties"]["hs_merged_object_ids"] for c in contacts)
    header, accounts = read_csv_rows(tmp_path / "dirty/salesforce/Account.csv")
    deleted = [r for r in accounts if r[header.index("IsDeleted")] == "true"]
    assert deleted and all(r[header.index("MasterRecordId")] for r in deleted)
    channels = {json.loads(m)["channel"] for m in (tmp_path / "dirty/contact_center/messages.jsonl").open()}
    assert "whatsapp" in channels
    assert "whatsapp" not in {
        json.loads(m)["channel"] for m in (tmp_path / "clean/contact_center/messages.jsonl").open()
    }


def _has_bom_and_newline(root: Path) -> tuple[bool, bool]:
    csvs = [p for p in all_files(root) if p.suffix == ".csv"]
    bom = any(p.read_bytes().startswith(BOM) for p in csvs)
    newline = any(
        "\n" in field or "\r" in field for p in csvs for row in read_csv_rows(p)[1] for field in row
    )
    return bom, newline


def test_bom_and_embedded_newlines_only_with_dirt(tiny: Path, tmp_path: Path) -> None:
    assert _has_bom_and_newline(tiny) == (True, True)
    generate_extracts(tmp_path, scale="tiny", seed=42, dirt_rate=0)
    assert _has_bom_and_newline(tmp_path) == (False, False)
    header, rows = read_csv_rows(tmp_path / "salesforce" / "Task.csv")
    assert all(r[header.index("Id")] for r in rows)


def _customer_count(root: Path) -> int:
    header, rows = read_csv_rows(root / "billing" / "orders.csv")
    consumers = {r[header.index("customer_id")] for r in rows}
    header, rows = read_csv_rows(root / "salesforce" / "Account.csv")
    domains = {
        r[header.index("Website")].removeprefix("https://www.")
        for r in rows
        if r[header.index("IsDeleted")] == "false"
    }
    domains |= {
        json.loads(line)["properties"]["domain"] for line in (root / "hubspot/companies.jsonl").open()
    }
    return len(consumers) + len(domains)


def test_scale_counts_roughly_as_requested(tiny: Path, tmp_path: Path) -> None:
    assert 270 <= _customer_count(tiny) <= 330
    generate_extracts(tmp_path, customers=1200, seed=9)
    assert 1080 <= _customer_count(tmp_path) <= 1320


def test_business_behaviour_is_visible(tmp_path: Path) -> None:
    generate_extracts(tmp_path, customers=3000, seed=11, dirt_rate=0)
    header, rows = read_csv_rows(tmp_path / "salesforce" / "Opportunity.csv")
    stages = {r[header.index("StageName")] for r in rows}
    assert {"Prospecting", "Closed Won", "Closed Lost"} <= stages
    currencies = {r[header.index("CurrencyIsoCode")] for r in rows}
    header, orders = read_csv_rows(tmp_path / "billing" / "orders.csv")
    currencies |= {r[header.index("currency")] for r in orders}
    assert currencies <= {"USD", "EUR", "GBP", "CAD", "AUD"} and len(currencies) == 5
    # Q4 peak and weekend dip in orders
    moments = [date.fromisoformat(r[header.index("order_date")][:10]) for r in orders]
    q4 = sum(d.month in (10, 11, 12) and d.year == 2025 for d in moments)
    q2 = sum(d.month in (4, 5, 6) and d.year == 2025 for d in moments)
    assert q4 > 1.2 * q2
    weekday = [d.weekday() for d in moments]
    assert weekday.count(6) < 0.9 * weekday.count(2)
    # chat is answered in minutes, e-mail in hours; out-of-hours messages wait for the morning
    threads: dict[str, list[dict]] = {}
    for line in (tmp_path / "contact_center/messages.jsonl").open():
        m = json.loads(line)
        threads.setdefault(m["thread_id"], []).append(m)
    waits: dict[str, list[float]] = {"chat": [], "email": []}
    for messages in threads.values():
        if len(messages) > 1 and messages[0]["channel"] in waits:
            t0, t1 = (_parse(m["sent_at"]) for m in messages[:2])
            waits[messages[0]["channel"]].append((t1 - t0).total_seconds())
    median = {k: sorted(v)[len(v) // 2] for k, v in waits.items()}
    assert median["chat"] < median["email"]
    # repeat buyers exist (buy-till-you-die), most buy once or twice
    per_customer: dict[str, int] = {}
    for r in orders:
        per_customer[r[1]] = per_customer.get(r[1], 0) + 1
    assert max(per_customer.values()) >= 5 and sum(v > 1 for v in per_customer.values()) > 0.15 * len(
        per_customer
    )


def _parse(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_identity_overlap_between_systems(tiny: Path) -> None:
    header, rows = read_csv_rows(tiny / "salesforce" / "Contact.csv")
    sf = {r[header.index("Email")].strip().lower() for r in rows}
    hs = {
        (json.loads(line)["properties"]["email"] or "").strip().lower()
        for line in (tiny / "hubspot/contacts.jsonl").open()
    }
    assert len(sf & hs) >= 5
    header, rows = read_csv_rows(tiny / "billing" / "orders.csv")
    buyers = {r[header.index("customer_email")].strip().lower() for r in rows}
    writers = {
        (json.loads(line)["customer_email"] or "").strip().lower()
        for line in (tiny / "contact_center/messages.jsonl").open()
    }
    assert len(buyers & writers) >= 20


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"as_of": date(2030, 1, 1)}, "outside the simulated horizon"),
        ({"days": 3}, "--days needs --as-of"),
        ({"as_of": date(2026, 1, 1), "days": 0}, "at least 1"),
        ({"dirt_rate": 1.5}, "between 0 and 1"),
        ({"customers": 3}, "at least"),
        ({"scale": "huge"}, "unknown scale"),
    ],
)
def test_bad_requests_are_explained(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(GenerateError, match=message):
        generate_extracts(tmp_path, **kwargs)


def test_summary_counts_what_was_written(tiny: Path, tmp_path: Path) -> None:
    summary = generate_extracts(tmp_path, scale="tiny", seed=42, as_of=date(2026, 11, 15) - timedelta(days=1))
    data = summary.to_dict()
    assert data["mode"] == "delta" and data["days"] == ["2026-11-14"]
    for f in summary.files:
        path = Path(f.path)
        assert path.stat().st_size == f.bytes
        if path.suffix == ".jsonl":
            assert len(path.read_text().splitlines()) == f.rows
        else:
            assert len(read_csv_rows(path)[1]) == f.rows
    assert summary.render().row_count == len(summary.files) + 1


def test_stage_history_agrees_with_current_stage(tiny: Path) -> None:
    hubspot_stages = [
        "appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
        "contractsent", "closedwon", "closedlost",
    ]  # fmt: skip
    for line in (tiny / "hubspot/deals.jsonl").open():
        deal = json.loads(line)
        history = deal["propertiesWithHistory"]["dealstage"]
        assert history[0]["value"] == deal["properties"]["dealstage"]
        assert [h["timestamp"] for h in history] == sorted((h["timestamp"] for h in history), reverse=True)
        assert {h["value"] for h in history} <= set(hubspot_stages)
    header, opps = read_csv_rows(tiny / "salesforce/Opportunity.csv")
    current = {r[0]: r[header.index("StageName")] for r in opps if r[0]}
    header, history = read_csv_rows(tiny / "salesforce/OpportunityHistory.csv")
    last: dict[str, tuple[str, str]] = {}
    for r in history:
        if r[0]:
            opp, stage, at = (
                r[header.index("OpportunityId")],
                r[header.index("StageName")],
                r[header.index("CreatedDate")],
            )
            if opp not in last or at >= last[opp][0]:
                last[opp] = (at, stage)
    assert {k: v[1] for k, v in last.items()} == current


def test_case_threads_carry_the_cases_first_response(tmp_path: Path) -> None:
    generate_extracts(tmp_path, customers=2000, seed=4, dirt_rate=0)
    header, cases = read_csv_rows(tmp_path / "salesforce/Case.csv")
    first_response = {r[0]: r[header.index("FirstResponseAt__c")] for r in cases}
    first_outbound: dict[str, str] = {}
    for line in (tmp_path / "contact_center/messages.jsonl").open():
        m = json.loads(line)
        if m["case_id"] and m["direction"] == "outbound":
            first_outbound.setdefault(m["case_id"], m["sent_at"])
    assert len(first_outbound) > 20
    for case_id, sent_at in first_outbound.items():
        if first_response[case_id]:
            assert first_response[case_id].replace(".000Z", "Z") == sent_at
    header, contacts = read_csv_rows(tmp_path / "salesforce/Contact.csv")
    phones = [r[header.index("Phone")] for r in contacts if r[header.index("IsDeleted")] == "false"]
    assert len(set(phones)) > 0.98 * len(phones)


def test_cli_generate_writes_deltas_and_explains_bad_dates(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    def crmwh(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "warehouse.cli", "generate", "--out", str(tmp_path), *args],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            env={**os.environ, "CI": "true", "COLUMNS": "200"},
            timeout=120,
        )

    result = crmwh("--customers", "200", "--as-of", "2026-11-21", "--days", "2")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "salesforce" / "Account_2026-11-20.csv").exists()
    assert (tmp_path / "hubspot" / "contacts_2026-11-21.jsonl").exists()
    assert (tmp_path / "billing" / "orders_2026-11-21.csv").exists()
    assert "total" in result.stdout
    bad = crmwh("--as-of", "21/11/2026")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr and "Traceback" not in bad.stderr
    full_without_day = crmwh("--full")
    assert full_without_day.returncode == 2 and "--full needs --as-of" in full_without_day.stderr
