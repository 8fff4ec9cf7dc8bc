import duckdb
import pytest

from ingest.readers import rename_columns

RENAMES = [
    pytest.param(["Id", "AccountId", "Name"], ["id", "account_id", "name"], id="case-only-and-snake"),
    pytest.param(["a", "b"], ["b", "a"], id="swap"),
    pytest.param(["a", "b", "c"], ["b", "c", "d"], id="chain"),
    pytest.param(["A", "b"], ["B", "a"], id="swap-differing-in-case"),
    pytest.param(["x", "__rename_0", "y"], ["y", "z", "x"], id="temporary-name-taken"),
    pytest.param(["keep", "Keep2", "other"], ["keep", "keep2", "other"], id="unchanged-kept"),
]


@pytest.mark.parametrize(("old", "new"), RENAMES)
def test_rename_columns_keeps_every_value_under_its_new_name(old: list[str], new: list[str]) -> None:
    con = duckdb.connect()
    columns = ", ".join(f'"{name}" VARCHAR' for name in old)
    con.execute(f"CREATE TEMP TABLE t ({columns})")
    con.execute(f"INSERT INTO t VALUES ({', '.join('?' for _ in old)})", [f"value of {name}" for name in old])
    rename_columns(con, "t", old, new)
    cursor = con.execute("SELECT * FROM t")
    names = [d[0] for d in cursor.description]
    assert names == new
    assert list(cursor.fetchone()) == [f"value of {name}" for name in old]
