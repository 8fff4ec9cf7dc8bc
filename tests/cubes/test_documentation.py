"""Every measure is documented, with its exact definition, in README.md and cubes/README.md."""

from pathlib import Path

import pytest

from cubes.catalog import measure_definition, with_measures_section
from cubes.definitions import default_cubes

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("document", ["README.md", "cubes/README.md"])
def test_the_measure_reference_is_current(document: str) -> None:
    text = (ROOT / document).read_text(encoding="utf-8")
    assert text == with_measures_section(text), (
        f"{document} is stale: run `.venv/bin/python -m cubes.catalog`"
    )


def test_every_measure_has_a_description_and_a_definition_naming_its_fact() -> None:
    for cube in default_cubes().values():
        for measure in cube.measures.values():
            assert measure.description.strip(), f"{cube.name}.{measure.name} has no description"
            definition = measure_definition(cube, measure.name)
            if measure.kind == "ratio":
                assert "/" in definition and "NULL when the denominator is 0" in definition
            else:
                assert cube.facts[measure.fact].table in definition
