"""The warehouse built from the hand-made tiny lake: every figure asserted here is worked out by
hand from tests/models/tiny_lake.py (UTC timestamps; business hours 09:00-17:00 New York)."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal

from tests.models.conftest import BuiltWarehouse

MARTS = {
    "dim_date", "dim_customer", "dim_channel", "dim_owner", "dim_campaign", "fct_interactions", "fct_cases",
    "fct_opportunities", "fct_opportunity_stage_changes", "fct_leads", "fct_orders", "fct_customer_months",
    "customer_crosswalk", "identity_match_quality",
}  # fmt: skip


def test_build_succeeds_with_all_tests_passing(tiny_warehouse: BuiltWarehouse) -> None:
    result = tiny_warehouse.result
    assert result.ok, result.render()
    assert result.models_errored == 0
    assert result.tests_failed == 0 and result.tests_errored == 0
    assert result.tests_passed > 150
    # the only warning: the unmapped channel values 'pigeon' and 'weird thing'
    assert result.tests_warned == 1
    assert result.run_results_path is not None and result.run_results_path.exists()
    assert result.manifest_path is not None and result.manifest_path.exists()


def test_marts_live_in_the_marts_schema(tiny_warehouse: BuiltWarehouse) -> None:
    tables = {row[0] for row in tiny_warehouse.query(
        "select table_name from information_schema.tables where table_schema = 'marts'"
    )}  # fmt: skip
    assert tables >= MARTS


def test_identity_resolution_clusters(tiny_warehouse: BuiltWarehouse, key_of) -> None:
    acme = key_of("salesforce:account:A1")
    # domain (HubSpot company), master record (A3), lead conversion (L1), e-mail (HC1), account membership (C1)
    for record in ("hubspot:company:H1", "salesforce:account:A3", "salesforce:lead:L1", "hubspot:contact:HC1",
                   "salesforce:contact:C1"):  # fmt: skip
        assert key_of(record) == acme, record
    umbrella = key_of("hubspot:company:H2")
    for record in (
        "hubspot:contact:HC2",
        "hubspot:contact:501",
        "hubspot:contact:503",
        "hubspot:company:999",
    ):
        assert key_of(record) == umbrella, record
    solo = key_of("salesforce:contact:C3")
    assert key_of("billing:customer:cust-1") == solo  # e-mail
    assert key_of("hubspot:contact:HC4") == solo  # phone, formatted differently
    assert key_of("contact_center:customer:b2c@mail.com") == key_of("billing:customer:cust-2")
    assert len({acme, umbrella, solo, key_of("salesforce:account:A2")}) == 4


def test_customer_key_is_a_hash_of_the_anchor_record(tiny_warehouse: BuiltWarehouse, key_of) -> None:
    assert key_of("salesforce:account:A1") == hashlib.md5(b"salesforce:account:A1").hexdigest()
    # a company customer anchored on HubSpot: H2 beats the merged-away 999 on record key
    assert key_of("hubspot:company:H2") == hashlib.md5(b"hubspot:company:999").hexdigest()
    assert key_of("salesforce:contact:C3") == hashlib.md5(b"salesforce:contact:C3").hexdigest()


def test_match_rules_reported(tiny_warehouse: BuiltWarehouse) -> None:
    rules = dict(tiny_warehouse.query(
        "select record_key, match_rule from marts.customer_crosswalk"
    ))  # fmt: skip
    assert rules["hubspot:company:H1"] == "domain"
    assert rules["salesforce:account:A3"] == "salesforce_master_record"
    assert rules["hubspot:contact:HC4"] == "phone"
    assert rules["billing:customer:cust-1"] == "email"
    assert rules["hubspot:contact:503"] == "hubspot_merge"
    assert rules["salesforce:lead:L2"] == "unmatched"


def test_match_quality_counts_records_and_cross_system_customers(tiny_warehouse: BuiltWarehouse) -> None:
    crosswalk = tiny_warehouse.query(
        "select customer_key, source_system, source_object, match_rule, assignment_rule from marts.customer_crosswalk"
    )
    systems: dict[str, set[str]] = {}
    for customer, system, *_ in crosswalk:
        systems.setdefault(customer, set()).add(system)
    expected: dict[tuple[str, str], list[int]] = {}
    for customer, system, obj, match_rule, assignment_rule in crosswalk:
        counts = expected.setdefault((f"{system}:{obj}", f"{match_rule} / {assignment_rule}"), [0, 0])
        counts[0] += 1
        counts[1] += len(systems[customer]) > 1
    report = tiny_warehouse.query(
        "select subject, rule_name, record_count, cross_system_records from marts.identity_match_quality "
        "where measure = 'record_match'"
    )
    assert {(subject, rule): [records, cross] for subject, rule, records, cross in report} == expected
    assert any(cross for _, cross in expected.values()) and any(not cross for _, cross in expected.values())


def test_dim_customer_survivorship(tiny_warehouse: BuiltWarehouse, key_of) -> None:
    row = tiny_warehouse.query(
        "select customer_name, customer_type, segment, size_band, country_name, region, acquisition_date, "
        "acquisition_source, acquisition_channel, primary_email, is_current, valid_to "
        "from marts.dim_customer where customer_key = ?",
        [key_of("salesforce:account:A1")],
    )
    # acquired when it first paid: won deal O1 closed 2024-03-15 (O3, won earlier, is deleted), not at the
    # creation of its first record on 2024-01-05
    assert row == [(
        "Acme Corp", "company", "Mid-Market", "201-1000", "United States", "North America", date(2024, 3, 15),
        "Web", "web", "jane@acme.com", True, None,
    )]  # fmt: skip
    people = tiny_warehouse.scalar("select count(*) from marts.dim_customer where customer_type = 'person'")
    # Sol (C3+HC4+cust-1), Bea (cust-2 + messages), Pat (L2), Lee (HC3), @birdfan, plus the unknown member
    assert people == 6
    assert (
        tiny_warehouse.scalar("select count(*) from marts.dim_customer where customer_key = 'unknown'") == 1
    )


def test_response_times_in_business_hours(tiny_warehouse: BuiltWarehouse) -> None:
    rows = {
        r[0]: r[1:]
        for r in tiny_warehouse.query(
            "select interaction_id, is_response, response_seconds, response_business_seconds, is_first_response "
            "from marts.fct_interactions"
        )
    }
    # an inbound call Friday and an outbound call Monday: calls are answered live, so no response pair
    assert rows["salesforce:T1"] == (False, None, None, False)
    assert rows["salesforce:T2"] == (False, None, None, False)
    # Thu 16:00 EST -> Fri 09:00 EST: one business hour on Thursday
    assert rows["hubspot:EN2"] == (True, 61200, 3600, True)
    # Sat and Sun inbound answered Mon 10:00 EDT (after the DST change): one business hour
    assert rows["contact_center:M3"] == (True, 180000, 3600, True)
    assert rows["contact_center:M4"] == (False, None, None, False)  # nothing left to answer
    assert rows["contact_center:M6"] == (True, 1800, 1800, False)
    assert rows["contact_center:M1"] == (False, None, None, False)
    live = tiny_warehouse.query(
        "select count(*), count(*) filter (where is_response or is_first_response) from marts.fct_interactions "
        "where channel_key in ('phone', 'meeting', 'note')"
    )
    assert live[0][0] > 0 and live[0][1] == 0  # calls, meetings and notes never answer (nor open) a response


def test_cases_business_seconds(tiny_warehouse: BuiltWarehouse) -> None:
    rows = {
        r[0]: r[1:]
        for r in tiny_warehouse.query(
            "select case_id, first_response_seconds, first_response_business_seconds, resolution_seconds, "
            "resolution_business_seconds, is_reopened, satisfaction_score, channel_key from marts.fct_cases"
        )
    }
    # opened Fri 15:00 EST, answered Mon 10:00 EDT (DST began Sunday), closed Tue 09:00 EDT
    assert rows["salesforce:CS1"] == (237600, 10800, 320400, 36000, True, 4, "email")
    # opened Wed 16:00 EDT, Thursday is Independence Day, answered Fri 10:00, closed Fri 11:00
    assert rows["hubspot:TK1"] == (151200, 7200, 154800, 10800, False, 5, "chat")


def test_unmapped_channels_kept_on_unknown(tiny_warehouse: BuiltWarehouse) -> None:
    unknown = tiny_warehouse.query(
        "select interaction_id from marts.fct_interactions where channel_key = 'unknown' order by 1"
    )
    assert unknown == [("contact_center:M7",), ("salesforce:T3",)]


def test_every_live_interaction_once(tiny_warehouse: BuiltWarehouse) -> None:
    # 3 completed tasks (T4 deleted, T5 open) + 1 past event + 4 past engagements + 7 messages
    assert tiny_warehouse.scalar("select count(*) from marts.fct_interactions") == 3 + 1 + 4 + 7


def test_only_interactions_that_happened(tiny_warehouse: BuiltWarehouse) -> None:
    # as-of = newest record modification time of the interaction sources: message M7's sent_at
    as_of = tiny_warehouse.scalar("select as_of_at from intermediate.int_calendar__as_of")
    assert as_of == datetime(2024, 3, 19, 15, 0)
    ids = {r[0] for r in tiny_warehouse.query("select interaction_id from marts.fct_interactions")}
    assert "salesforce:T5" not in ids  # open task: planned, not done
    assert "salesforce:E2" not in ids  # meeting planned after the as-of instant
    assert "hubspot:EN5" not in ids  # engagement scheduled after the as-of instant
    assert {"salesforce:T3", "salesforce:E1", "hubspot:EN4"} <= ids
    latest = tiny_warehouse.scalar("select max(occurred_at) from marts.fct_interactions")
    assert latest <= as_of


def test_opportunities(tiny_warehouse: BuiltWarehouse) -> None:
    rows = {
        r[0]: r[1:]
        for r in tiny_warehouse.query(
            "select opportunity_id, is_won, closed_date, days_to_close, amount_reporting, probability, "
            "weighted_amount_reporting, lead_id from marts.fct_opportunities"
        )
    }
    assert set(rows) == {"salesforce:O1", "salesforce:O2", "hubspot:D1"}  # O3 and D2 deleted
    assert rows["salesforce:O1"] == (True, date(2024, 3, 15), 43, Decimal("1000.00"), 1.0, Decimal("1000.00"),
                                     "salesforce:L1")  # fmt: skip
    eur_march = tiny_warehouse.scalar(
        "select rate_to_usd from seeds.currency_rates where currency_code = 'EUR' and rate_date = '2024-06-01'"
    )
    open_deal = rows["salesforce:O2"]
    assert open_deal[0] is False and open_deal[1] is None
    assert open_deal[3] == Decimal(str(round(2000 * eur_march, 2)))
    assert open_deal[5] == Decimal(str(round(float(open_deal[3]) * 0.8, 2)))
    won = tiny_warehouse.scalar("select sum(amount_reporting) from marts.fct_opportunities where is_won")
    assert won == Decimal("6000.00")


def test_stage_changes_collapse_repeats(tiny_warehouse: BuiltWarehouse) -> None:
    rows = tiny_warehouse.query(
        "select funnel_step, days_in_stage, has_advanced, is_current_stage from marts.fct_opportunity_stage_changes "
        "where opportunity_id = 'salesforce:O1' order by entered_at"
    )
    # the second Qualification history row (an amount change) is not a stage change
    assert rows == [
        ("Prospecting", 4.0, True, False),
        ("Qualification", 5.0, True, False),
        ("Proposal", 34.0, True, False),
        ("Closed Won", None, False, True),
    ]


def test_orders_refunds_and_cancellations(tiny_warehouse: BuiltWarehouse) -> None:
    rows = dict(
        tiny_warehouse.query("select order_id, amount from marts.fct_orders where source_system = 'billing'")
    )
    assert rows == {
        "billing:B1": Decimal("100.00"),  # latest version of the record
        "billing:B2": Decimal("50.00"),
        "billing:B3": Decimal("80.00"),
        "billing:B4": Decimal("-30.00"),  # refund
    }  # B5 cancelled
    won_deals = tiny_warehouse.scalar("select count(*) from marts.fct_orders where order_type = 'won_deal'")
    assert won_deals == 2


def test_customer_months_churn(tiny_warehouse: BuiltWarehouse, key_of) -> None:
    rows = tiny_warehouse.query(
        "select month_start_date, months_since_acquisition, is_active, order_count, is_churned "
        "from marts.fct_customer_months where customer_key = ? order by 1",
        [key_of("salesforce:contact:C3")],
    )
    # from the first payment; no later months: the as-of date is the latest order or interaction (B2, 2024-05-02)
    assert rows == [
        (date(2024, 3, 1), 0, True, 1, False),
        (date(2024, 4, 1), 1, False, 0, True),
        (date(2024, 5, 1), 2, True, 1, False),
    ]


def test_acquisition_is_first_payment(tiny_warehouse: BuiltWarehouse, key_of) -> None:
    customers = tiny_warehouse.query(
        "select customer_key, acquisition_date, acquisition_month, acquisition_quarter from marts.dim_customer "
        "where is_current and customer_key <> 'unknown'"
    )
    first_paid = dict(
        tiny_warehouse.query(
            "select customer_key, min(order_date) from marts.fct_orders where not is_refund group by customer_key"
        )
    )
    for customer_key, acquired, month, quarter in customers:
        assert acquired == first_paid.get(customer_key), customer_key
        if acquired is None:
            assert (month, quarter) == (None, None)
        else:
            assert (month, quarter) == (
                acquired.replace(day=1),
                f"{acquired.year}-Q{(acquired.month - 1) // 3 + 1}",
            )
    prospects = {key for key, acquired, _, _ in customers if acquired is None}
    assert key_of("salesforce:lead:L2") in prospects  # Pat never paid
    assert len(prospects) < len(customers)
    months = tiny_warehouse.query(
        "select customer_key, bool_and(is_active) filter (where months_since_acquisition = 0), "
        "count(*) filter (where months_since_acquisition = 0) from marts.fct_customer_months group by 1"
    )
    assert {key for key, _, _ in months} == {key for key, acquired, _, _ in customers if acquired is not None}
    assert all(active and count == 1 for _, active, count in months)


def test_fiscal_calendar(tiny_warehouse: BuiltWarehouse) -> None:
    rows = tiny_warehouse.query(
        "select date_day, fiscal_year, fiscal_quarter, fiscal_year_quarter, is_holiday, day_of_week, week_start_date "
        "from marts.dim_date where date_day in ('2024-01-31', '2024-02-01', '2024-07-04') order by 1"
    )
    assert rows == [
        (date(2024, 1, 31), 2024, 4, "FY2024-Q4", False, 3, date(2024, 1, 29)),
        (date(2024, 2, 1), 2025, 1, "FY2025-Q1", False, 4, date(2024, 1, 29)),
        (date(2024, 7, 4), 2025, 2, "FY2025-Q2", True, 4, date(2024, 7, 1)),
    ]


def test_docs_generate_describes_every_model_and_column(tiny_warehouse: BuiltWarehouse) -> None:
    import json
    import os

    from dbt.cli.main import dbtRunner

    from warehouse.build import _release_warehouse, dbt_vars
    from warehouse.config import PROJECT_ROOT

    settings = tiny_warehouse.settings
    target = settings.runs_dir / "docs"
    os.environ["CRMWH_WAREHOUSE_PATH"] = str(settings.warehouse_path)
    try:
        outcome = dbtRunner().invoke([
            "docs", "generate", "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT),
            "--target-path", str(target), "--log-path", str(settings.runs_dir / "docs-logs"), "--quiet",
            "--vars", json.dumps(dbt_vars(settings)),
        ])  # fmt: skip
    finally:
        _release_warehouse()
    assert outcome.success, outcome.exception
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    undocumented = []
    for node in manifest["nodes"].values():
        if node["resource_type"] not in {"model", "snapshot"}:
            continue
        if not node["description"]:
            undocumented.append(node["name"])
        built_columns = catalog["nodes"].get(node["unique_id"], {}).get("columns", {})
        documented = {name.lower() for name, column in node["columns"].items() if column["description"]}
        undocumented += [f"{node['name']}.{c}" for c in built_columns if c.lower() not in documented]
    # the snapshot's own dbt_* bookkeeping columns are documented by dbt itself
    assert [u for u in undocumented if not u.startswith("snp_customers.")] == []
