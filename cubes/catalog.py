"""What the cubes offer: dimensions, hierarchies and levels, measures with description and format."""

from __future__ import annotations

from typing import Any

from cubes.definitions import Cube, default_cubes


def catalog(cubes: dict[str, Cube] | None = None) -> list[dict[str, Any]]:
    cubes = cubes if cubes is not None else default_cubes()
    out = []
    for cube in cubes.values():
        out.append(
            {
                "cube": cube.name,
                "description": cube.description,
                "facts": {f.name: f.table for f in cube.facts.values()},
                "dimensions": [
                    {
                        "dimension": d.name,
                        "description": d.description,
                        "facts": list(d.joins),
                        "levels": [f"{d.name}.{lv}" for lv in d.levels],
                        "hierarchies": {h: list(chain) for h, chain in d.hierarchies.items()},
                    }
                    for d in cube.dimensions.values()
                ],
                "measures": [
                    {
                        "measure": m.name,
                        "format": m.format,
                        "description": m.description,
                        "additive": cube.is_additive(m.name),
                    }
                    for m in cube.measures.values()
                    if not m.hidden
                ],
                "preaggregations": [p.name for p in cube.preaggregations],
            }
        )
    return out


def render_catalog(entries: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for c in entries:
        lines.append(f"cube {c['cube']}: {c['description']}")
        lines.append("  dimensions:")
        for d in c["dimensions"]:
            hier = "; ".join(f"{h}: {' -> '.join(chain)}" for h, chain in d["hierarchies"].items())
            lines.append(f"    {d['dimension']}: {', '.join(d['levels'])}" + (f"  [{hier}]" if hier else ""))
        lines.append("  measures:")
        for m in c["measures"]:
            lines.append(f"    {m['measure']} ({m['format']}): {m['description']}")
        lines.append("")
    return "\n".join(lines)
