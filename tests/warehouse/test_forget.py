"""``crmwh forget`` end to end on a generated company: ingest, build, forget one person, then search every
Parquet file of the lake and every table and view of the warehouse for them; rebuild and re-ingest an
extract that still names them; aggregates drop exactly their contribution."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from ingest.manifest import read_manifest
from ingest.run import ingest_paths
from warehouse.build import build
from warehouse.config import PROJECT_ROOT, Settings, load_settings
from warehouse.forget import ForgetError, forget, ingest_tombstones, register
from warehouse.generate import generate_extracts
from warehouse.postbuild import finish_warehouse

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("forget")]


def settings_for(base: Path) -> Settings:
    env = {
        "CRMWH_PATHS__LAKE_DIR": str(base / "lake"),
        "CRMWH_PATHS__WAREHOUSE_PATH": str(base / "wh.duckdb"),
        "CRMWH_PATHS__RUNS_DIR": str(base / "runs"),
        "CRMWH_PATHS__INBOX_DIR": str(base / "inbox"),
        "CRMWH_PRIVACY__TOMBSTONES_PATH": str(base / "privacy" / "tombstones.jsonl"),
        "CRMWH_PRIVACY__SALT_PATH": str(base / "privacy" / "salt"),
    }
    return load_settings(PROJECT_ROOT / "crmwh.toml", env=env)


def build_warehouse(settings: Settings, full_refresh: bool) -> None:
    result = build(settings, full_refresh=full_refresh)
    assert result.ok, result.to_dict()
    finish_warehouse(settings.warehouse_path, settings)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = settings_for(tmp_path_factory.mktemp("forget"))
    generate_extracts(settings.inbox_dir, scale="tiny", seed=7)
    ingest_paths(settings, tombstones=ingest_tombstones(settings))
    build_warehouse(settings, full_refresh=True)
    return settings


def query(settings: Settings, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@dataclass
class Person:
    customer_key: str
    emails: list[str]
    phones: list[str]  # E.164
    name: str
    record_keys: list[str]
    source_ids: list[str]


def pick_person(settings: Settings) -> Person:
    """A customer with a billing record and a CRM contact, a unique name and an e-mail."""
    candidates = query(
        settings,
        """with unique_names as (
            select customer_name from marts.dim_customer group by 1 having count(distinct customer_key) = 1
        )
        select c.customer_key, d.customer_name, list(c.record_key order by c.record_key),
               list(c.source_id order by c.record_key)
        from marts.customer_crosswalk c
        join marts.dim_customer d using (customer_key)
        join unique_names using (customer_name)
        where d.is_current and d.primary_email is not null
        group by c.customer_key, d.customer_name
        having count(distinct c.source_system) >= 2
           and bool_or(c.record_key like 'billing:customer:CUS-%')
           and bool_or(c.record_key like 'hubspot:contact:%' or c.record_key like 'salesforce:contact:%')
        order by 1""",
    )
    assert candidates, "the generated company has no customer in two sources"
    key, name, record_keys, source_ids = candidates[0]
    emails = query(
        settings,
        """select distinct lower(email) from (
            select email from staging.stg_salesforce__contacts where 'salesforce:contact:' || contact_id in ?
            union all select email from staging.stg_hubspot__contacts where 'hubspot:contact:' || contact_id in ?
            union all select customer_email from staging.stg_billing__orders where 'billing:customer:' || customer_id in ?
        ) where email is not null""",
        [record_keys] * 3,
    )
    phones = query(
        settings,
        """select distinct phone from (
            select phone from staging.stg_salesforce__contacts where 'salesforce:contact:' || contact_id in ?
            union all select phone from staging.stg_hubspot__contacts where 'hubspot:contact:' || contact_id in ?
            union all select customer_phone from staging.stg_billing__orders where 'billing:customer:' || customer_id in ?
        ) where phone is not null""",
        [record_keys] * 3,
    )
    return Person(key, [e for (e,) in emails], [p for (p,) in phones], name, record_keys, source_ids)


def needles(person: Person) -> list[str]:
    found = [*person.emails, *person.phones, person.name.lower(), *(k.lower() for k in person.record_keys)]
    # Bare ids long enough to be unambiguous (Salesforce ids, billing customer ids).
    found += [s.lower() for s in person.source_ids if len(s) >= 10]
    return found


def phone_digits(person: Person) -> list[str]:
    return ["".join(ch for ch in p if ch.isdigit()) for p in person.phones]


def lake_hits(settings: Settings, person: Person) -> list[str]:
    """file:column of every Parquet value under the lake naming the person."""
    hits = []
    words = needles(person)
    hubspot_ids = [k.split(":")[-1] for k in person.record_keys if k.startswith("hubspot:contact:")]
    with duckdb.connect() as con:
        for path in sorted(settings.lake_dir.rglob("*.parquet")):
            relation = con.execute(f"select * from read_parquet('{path}') limit 0")
            for column, type_code in ((d[0], d[1]) for d in relation.description):
                if str(type_code) != "VARCHAR":
                    continue
                quoted = '"' + column.replace('"', '""') + '"'
                tests = [f"contains(lower({quoted}), ?)" for _ in words]
                params: list[str] = list(words)
                if "phone" in column or column == "_raw_line":
                    tests += [
                        f"contains(regexp_replace({quoted}, '[^0-9]', '', 'g'), ?)"
                        for _ in phone_digits(person)
                    ]
                    params += phone_digits(person)
                if (
                    column in ("id", "contact_id", "canonical_vid", "vid_to_merge", "who_id")
                    or "merged" in column
                ):
                    tests += [f"{quoted} = ?" for _ in hubspot_ids]
                    params += hubspot_ids
                count = con.execute(
                    f"select count(*) from read_parquet('{path}') where {' or '.join(tests)}", params
                ).fetchone()[0]
                if count:
                    hits.append(f"{path.relative_to(settings.lake_dir)}:{column}")
    return hits


def warehouse_hits(settings: Settings, person: Person) -> list[str]:
    """schema.relation.column of every table or view value naming the person (all schemas)."""
    hits = []
    words = [*needles(person), person.customer_key.lower()]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        columns = con.execute(
            """select table_schema, table_name, column_name from information_schema.columns
            where data_type = 'VARCHAR' order by 1, 2, 3"""
        ).fetchall()
        for schema, table, column in columns:
            quoted = '"' + column.replace('"', '""') + '"'
            tests = " or ".join(f"contains(lower({quoted}), ?)" for _ in words)
            count = con.execute(f'select count(*) from "{schema}"."{table}" where {tests}', words).fetchone()[
                0
            ]
            if count:
                hits.append(f"{schema}.{table}.{column}")
    return hits


def totals(settings: Settings) -> tuple[int, int, float]:
    customers, orders, amount = query(
        settings,
        "select (select count(distinct customer_key) from marts.dim_customer), count(*), sum(amount) from marts.fct_orders",
    )[0]
    return int(customers), int(orders), float(amount)


def assert_manifest_reconciles(settings: Settings) -> None:
    import pyarrow.parquet as pq

    lake = settings.lake_dir
    for load_id, record in read_manifest(lake).items():
        if record["status"] == "quarantined":
            continue
        for entry in (record, *record.get("children", [])):
            relative = Path(record["source"]) / entry["object"] / f"{load_id}.parquet"
            landed = pq.ParquetFile(lake / relative).metadata.num_rows if (lake / relative).exists() else 0
            rejects = lake / "_rejects" / relative
            rejected = pq.ParquetFile(rejects).metadata.num_rows if rejects.exists() else 0
            assert (entry["rows_landed"], entry["rows_rejected"]) == (landed, rejected), relative
            assert entry["rows_read"] == landed + rejected + entry.get("rows_erased", 0), relative


def tree_digest(settings: Settings) -> dict[str, str]:
    paths = [p for p in settings.lake_dir.rglob("*") if p.is_file()] + [settings.warehouse_path]
    paths += [p for p in (settings.tombstones_path,) if p.exists()]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_a_dry_run_counts_and_changes_nothing(world: Settings) -> None:
    person = pick_person(world)
    before = tree_digest(world)
    report = forget(world, emails=[person.emails[0]], dry_run=True)
    assert tree_digest(world) == before
    assert report.lake_rows_erased > 0 and report.warehouse_tables["marts.dim_customer"] == 1
    app = typer.Typer()
    register(app)
    env = {
        "CRMWH_PATHS__LAKE_DIR": str(world.lake_dir),
        "CRMWH_PATHS__WAREHOUSE_PATH": str(world.warehouse_path),
        "CRMWH_PATHS__RUNS_DIR": str(world.runs_dir),
        "CRMWH_PATHS__INBOX_DIR": str(world.inbox_dir),
        "CRMWH_PRIVACY__TOMBSTONES_PATH": str(world.tombstones_path),
        "CRMWH_PRIVACY__SALT_PATH": str(world.salt_path),
    }
    result = CliRunner().invoke(app, ["--email", person.emails[0], "--dry-run", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["lake_rows_erased"] == report.lake_rows_erased
    assert tree_digest(world) == before
    rendered = report.render() + result.output
    for value in needles(person):
        assert value not in rendered.lower()


def test_bad_requests_are_refused(world: Settings) -> None:
    with pytest.raises(ForgetError, match="name the person"):
        forget(world)
    with pytest.raises(ForgetError, match="salesforce:contact:ID"):
        forget(world, source_ids=["salesforce:opportunity:006x"])
    with pytest.raises(ForgetError, match="e-mail"):
        forget(world, emails=["not-an-address"])


def test_forget_erases_the_person_everywhere_and_for_good(world: Settings) -> None:
    person = pick_person(world)
    assert lake_hits(world, person) and warehouse_hits(world, person)
    customers, orders, amount = totals(world)
    (person_orders, person_amount) = query(
        world,
        "select count(*), coalesce(sum(amount), 0) from marts.fct_orders where customer_key = ?",
        [person.customer_key],
    )[0]
    assert person_orders > 0

    restored = world.warehouse_path.with_name("before-forget.duckdb")
    shutil.copyfile(world.warehouse_path, restored)
    report = forget(world, emails=[person.emails[0]])

    assert report.tombstones_added >= 3
    tombstones = world.tombstones_path.read_text()
    for value in needles(person):
        assert value not in tombstones.lower()
    assert lake_hits(world, person) == []
    assert warehouse_hits(world, person) == []
    assert_manifest_reconciles(world)
    assert totals(world) == (
        customers - 1,
        orders - person_orders,
        pytest.approx(amount - float(person_amount)),
    )
    after = totals(world)

    # A backup from before the erasure put back (as `crmwh restore` would): --reapply finds the person
    # through the tombstones alone and erases them again.
    erased_warehouse = world.warehouse_path.with_name("after-forget.duckdb")
    os.replace(world.warehouse_path, erased_warehouse)
    os.replace(restored, world.warehouse_path)
    assert warehouse_hits(world, person)
    again = forget(world, reapply=True)
    assert again.tombstones_added == 0 and again.warehouse_tables["marts.dim_customer"] == 1
    assert warehouse_hits(world, person) == []
    assert totals(world) == after

    # A later extract that still contains the person: their rows are erased on arrival.
    original = (world.inbox_dir / "billing" / "orders.csv").read_text().splitlines()
    theirs = [line for line in original[1:] if any(e in line.lower() for e in person.emails)]
    assert theirs
    later = world.inbox_dir / "billing" / "orders_2026-11-20.csv"
    later.write_text("\n".join([original[0], *theirs, original[1]]) + "\n")
    ingested = ingest_paths(world, [later], tombstones=ingest_tombstones(world))
    (file_report,) = ingested.files
    assert dict(file_report.top_reasons)["erased_on_request"] == len(theirs)
    assert file_report.rows_landed == 1
    assert lake_hits(world, person) == []
    assert_manifest_reconciles(world)

    # The next (incremental) build reads the rewritten lake and the new load: nobody comes back.
    build_warehouse(world, full_refresh=False)
    assert warehouse_hits(world, person) == []
    assert totals(world) == after
