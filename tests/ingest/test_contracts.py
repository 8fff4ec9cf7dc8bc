import copy
from pathlib import Path

import pytest
import yaml

from ingest.contracts import load_contract, load_contracts, parse_contract
from ingest.errors import ContractError

VALID = {
    "source": "shop",
    "format": "csv",
    "objects": {
        "order": {
            "files": ["orders", "Order"],
            "primary_key": "order_id",
            "updated_at": "updated_at",
            "columns": {
                "order_id": {"type": "string", "required": True},
                "amount": {"type": "decimal"},
                "phone": {"type": "string", "standardise": "phone", "phone_country_from": "country"},
                "country": {"type": "string", "standardise": "country"},
                "updated_at": {"type": "timestamp", "aliases": ["UpdatedOn"]},
            },
        }
    },
}


def broken(path: list[str], value: object) -> dict:
    data = copy.deepcopy(VALID)
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


def test_shipped_contracts_are_valid() -> None:
    contracts = load_contracts()
    assert set(contracts) == {"salesforce", "hubspot", "billing", "contact_center"}
    deal_stage = contracts["hubspot"].objects["deal_stage"]
    assert deal_stage.explode_from is not None
    assert deal_stage.explode_from.parent_key == "deal_id"
    assert contracts["hubspot"].children_of("deal") == [deal_stage]


def test_valid_contract_parses_with_normalised_files_and_aliases() -> None:
    contract = parse_contract(VALID, "shop.yml")
    order = contract.objects["order"]
    assert order.files == ("orders", "order")
    assert order.column("updated_at").aliases == ("updated_on",)
    assert order.landed_schema()[:4] == [
        ("order_id", "VARCHAR"),
        ("amount", "DECIMAL(18,4)"),
        ("phone", "VARCHAR"),
        ("phone_is_valid", "BOOLEAN"),
    ]
    assert contract.object_for_file("orders") is order
    assert contract.object_for_file("refunds") is None


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ["objects", "order", "columns", "amount", "type"],
            "money",
            "shop.yml: objects.order.columns.amount.type: unknown type 'money'",
        ),
        (
            ["objects", "order", "columns", "amount", "standardise"],
            "email",
            "shop.yml: objects.order.columns.amount.standardise: email applies to type string, not decimal",
        ),
        (
            ["objects", "order", "columns", "country", "standardise"],
            "planet",
            "shop.yml: objects.order.columns.country.standardise: unknown standardiser 'planet'",
        ),
        (
            ["objects", "order", "columns", "order_id", "required"],
            "yes",
            "shop.yml: objects.order.columns.order_id.required: expected true or false, got 'yes'",
        ),
        (
            ["objects", "order", "columns", "order_id", "colour"],
            "red",
            "shop.yml: objects.order.columns.order_id: unknown key(s) colour",
        ),
        (
            ["objects", "order", "primary_key"],
            "id",
            "shop.yml: objects.order.primary_key: no column 'id' in this object",
        ),
        (
            ["objects", "order", "updated_at"],
            "modified",
            "shop.yml: objects.order.updated_at: no column 'modified' in this object",
        ),
        (
            ["objects", "order", "files"],
            [],
            "shop.yml: objects.order.files: expected a non-empty list of file names",
        ),
        (
            ["objects", "order", "columns", "phone", "phone_country_from"],
            "region",
            "shop.yml: objects.order.columns.phone.phone_country_from: no column 'region' in this object",
        ),
        (
            ["objects", "order", "columns", "updated_at", "aliases"],
            ["amount"],
            "shop.yml: objects.order.columns.updated_at.aliases: 'amount' is already a column or an alias",
        ),
        (
            ["objects", "order", "columns", "updated_at", "path"],
            "teams.name",
            "shop.yml: objects.order.columns.updated_at.path: expected a JSON path starting with '$'",
        ),
        (["source"], KeyError, "shop.yml: 'source' is required"),
        (["format"], "xml", "shop.yml: format: unknown format 'xml'"),
        (["encoding"], "ebcdic", "shop.yml: encoding: unknown encoding 'ebcdic'"),
        (
            ["objects", "order", "explode_from"],
            {"object": "invoice", "path": "$.lines", "parent_key": "order_id"},
            "shop.yml: objects.order.explode_from.object: no object 'invoice'",
        ),
        (
            ["objects", "order", "columns", "OrderId"],
            {"type": "string"},
            "shop.yml: objects.order.columns.OrderId: column names are landed snake_case names; write 'order_id'",
        ),
    ],
)
def test_invalid_contracts_name_the_key_at_fault(path: list[str], value: object, message: str) -> None:
    with pytest.raises(ContractError) as excinfo:
        parse_contract(broken(path, value), "shop.yml")
    assert str(excinfo.value).startswith(message)


def test_a_file_claimed_by_two_objects_is_refused() -> None:
    data = copy.deepcopy(VALID)
    data["objects"]["refund"] = {"files": ["orders"], "columns": {"id": {}}}
    with pytest.raises(ContractError, match="'orders' is already a file of 'order'"):
        parse_contract(data, "shop.yml")


def test_yaml_syntax_errors_are_contract_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("source: x\nobjects: [unclosed\n", encoding="utf-8")
    with pytest.raises(ContractError, match=r"bad\.yml: not valid YAML"):
        load_contract(path)


def test_contract_round_trips_through_yaml(tmp_path: Path) -> None:
    path = tmp_path / "shop.yml"
    path.write_text(yaml.safe_dump(VALID, sort_keys=False), encoding="utf-8")
    assert load_contract(path) == parse_contract(VALID, "shop.yml")
