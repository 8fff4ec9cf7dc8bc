"""Definition validation: precise messages for broken cube YAML, and checks against the live schema."""

from __future__ import annotations

import copy

import duckdb
import pytest

from cubes.definitions import (
    DEFINITIONS_DIR,
    load_cubes,
    load_yaml,
    parse_cube,
    parse_shared_dimensions,
    validate_against_warehouse,
)
from cubes.errors import DefinitionError

SHARED = parse_shared_dimensions(load_yaml(DEFINITIONS_DIR / "dimensions.yml"))
PIPELINE = load_yaml(DEFINITIONS_DIR / "pipeline.yml")


def broken(change) -> dict:
    data = copy.deepcopy(PIPELINE)
    change(data)
    return data


def test_shipped_definitions_load():
    cubes = load_cubes()
    assert set(cubes) == {"pipeline", "retention", "service", "customer_value"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["measures"]["won"].update(where="is_winner"),
            r"measure won: unknown column 'is_winner' in fact opportunities",
        ),
        (
            lambda d: d["measures"]["won"].update(fact="deals"),
            r"measure won: references missing fact 'deals'",
        ),
        (
            lambda d: d["measures"]["win_rate"].update(numerator="wins"),
            r"measure win_rate: references unknown measure 'wins'",
        ),
        (
            lambda d: d["measures"].update(
                a={"numerator": "b", "denominator": "leads", "description": "x"},
                b={"numerator": "a", "denominator": "leads", "description": "x"},
            ),
            r"measure cycle a -> b -> a",
        ),
        (
            lambda d: d["preaggregations"][0]["levels"].append("date.fortnight"),
            r"pre-aggregation opportunities_by_month: unknown level 'date.fortnight'",
        ),
        (
            lambda d: d["preaggregations"][0]["measures"].append("median_days_in_stage"),
            r"measure median_days_in_stage is not additive",
        ),
        (
            lambda d: d["dimensions"]["date"]["joins"].update(leads="made_on"),
            r"dimension date: unknown column 'made_on' in fact leads",
        ),
        (
            lambda d: d["dimensions"]["funnel"].update(hierarchies={"steps": ["step", "step_order", "step"]}),
            r"cycle in hierarchy steps: level 'step' appears twice",
        ),
        (
            lambda d: d["measures"]["won"].update(aggregation="mode"),
            r"measure won: unknown aggregation 'mode'",
        ),
        (lambda d: d["measures"]["won"].update(where="is_won and (select 1)"), r"must be scalar"),
        (lambda d: d["dimensions"]["owner"].update(source="staff"), r"unknown shared dimension 'staff'"),
    ],
)
def test_validation_errors_are_precise(change, message):
    with pytest.raises(DefinitionError, match=message):
        parse_cube(broken(change), SHARED)


def test_hierarchy_cycle_in_shared_dimension():
    data = load_yaml(DEFINITIONS_DIR / "dimensions.yml")
    data["dimensions"]["date"]["hierarchies"]["calendar"] = ["year", "quarter", "month", "quarter"]
    with pytest.raises(
        DefinitionError,
        match=r"cycle in hierarchy calendar: level 'quarter' appears twice \(year -> quarter -> month -> quarter\)",
    ):
        parse_shared_dimensions(data)


def test_live_schema_validation(warehouse_file, tmp_path):
    con = duckdb.connect(str(warehouse_file), read_only=True)
    for cube in load_cubes().values():
        validate_against_warehouse(cube, con)
    con.close()
    other = duckdb.connect(str(tmp_path / "w.duckdb"))
    other.execute("create schema marts; create table marts.fct_leads(lead_id varchar)")
    with pytest.raises(
        DefinitionError, match=r"fact leads: unknown column 'campaign_key' in marts.fct_leads"
    ):
        validate_against_warehouse(load_cubes()["pipeline"], other)
    with pytest.raises(DefinitionError, match=r"table marts.fct_opportunities not found"):
        validate_against_warehouse(load_cubes()["pipeline"], other)
