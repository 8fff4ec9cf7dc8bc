"""The ``crmwh`` command line: one entry point, one subcommand per job.

Each subcommand is a thin shell over a function of the package that does the work, so the same
work is reachable from Python and from tests. Errors of the project's own kinds are printed as one
message (no traceback) and mapped to an exit code.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from warehouse.config import Settings, load_settings
from warehouse.errors import WarehouseError

app = typer.Typer(
    name="crmwh",
    help=(
        "crmwh: an analytical CRM data warehouse.\n\n"
        "Data flows generate -> ingest (Parquet lake) -> build (dbt star schema in DuckDB) -> query (OLAP cubes)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()


class Scale(StrEnum):
    tiny = "tiny"
    small = "small"
    medium = "medium"
    large = "large"


def _settings(config: Path | None) -> Settings:
    return load_settings(config)


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="Configuration file (default: crmwh.toml at the project root, or $CRMWH_CONFIG)."
    ),
]


def show_progress() -> bool:
    """Progress bars only on an interactive terminal; CI and pipes stay quiet."""
    return sys.stderr.isatty() and not _is_ci()


def _is_ci() -> bool:
    import os

    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@app.command()
def generate(
    scale: Annotated[Scale, typer.Option(help="Size of the simulated company.")] = Scale.tiny,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same bytes.")] = 42,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the extracts (default: the configured inbox)."),
    ] = None,
    customers: Annotated[
        int | None, typer.Option(help="Explicit number of customers (overrides --scale).")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Write only the delta extract of this day (YYYY-MM-DD), as a nightly feed would."
        ),
    ] = None,
    days: Annotated[
        int | None, typer.Option(help="With --as-of: write the deltas of this many days ending on --as-of.")
    ] = None,
    dirt_rate: Annotated[float, typer.Option(help="Share of records made dirty (0 to 1).")] = 0.02,
    full: Annotated[
        bool,
        typer.Option("--full", help="With --as-of: write the full extract as of that day, not its delta."),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Generate realistic Salesforce, HubSpot, billing and contact-center extracts.

    Without --as-of: the full extract as of 2026-11-15. --as-of D: the delta of day D (records created or
    changed that day); --days N: the N daily deltas ending on D; --full --as-of D: the full extract as of D.
    """
    settings = _settings(config)
    from warehouse.generate import GenerateError, generate_extracts

    if full and not as_of:
        raise GenerateError("--full needs --as-of; without --as-of the full extract of 2026-11-15 is written")
    try:
        as_of_day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise GenerateError(f"--as-of expects a date as YYYY-MM-DD, got {as_of!r}") from None
    target = out_dir or settings.inbox_dir
    summary = generate_extracts(
        target,
        scale=scale.value,
        seed=seed,
        customers=customers,
        as_of=as_of_day,
        days=days,
        dirt_rate=dirt_rate,
        progress=show_progress(),
        full=full,
    )
    out.print(summary.render())


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders to ingest (default: everything in the inbox)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Land extracts in the Parquet lake: validate, standardise, reject with reasons, lose nothing.

    Exit status: 0 all rows landed, 1 some rows rejected or files quarantined, 2 error.
    """
    settings = _settings(config)
    from ingest.run import ingest_paths
    from warehouse.audit import audited

    target = ",".join(p.name for p in paths) if paths else "inbox"
    with audited(settings, "ingest", target[:200]) as audit:
        report = ingest_paths(settings, paths or None, progress=show_progress())
        audit.details.update(report.to_dict()["totals"], exit_code=report.exit_code)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        out.print(report.render())
    raise typer.Exit(report.exit_code)


def _register_commands() -> None:
    """Commands whose code lives beside the work they do (build with dbt, query with the cubes)."""
    from cubes.cli import register as register_cube_commands
    from warehouse.backups import register as register_backups
    from warehouse.build import register as register_build
    from warehouse.forget import register as register_forget
    from warehouse.nightly import register as register_nightly
    from warehouse.publish import register as register_publish
    from warehouse.report import register as register_report
    from warehouse.serve import register as register_serve

    register_build(app)
    register_cube_commands(app)
    register_publish(app)
    register_serve(app)
    register_nightly(app)
    register_report(app)
    register_forget(app)
    register_backups(app)


_register_commands()


def main() -> None:
    """Console-script entry point: project errors become one readable line and an exit code."""
    try:
        app()
    except WarehouseError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(exc.exit_code)
    except _package_errors() as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(getattr(exc, "exit_code", 2))


def _package_errors() -> tuple[type[BaseException], ...]:
    """Base errors of the other packages, imported lazily so a broken package cannot break --help."""
    found: list[type[BaseException]] = []
    for module, name in (("ingest.errors", "IngestError"), ("cubes.errors", "CubeError")):
        try:
            mod = __import__(module, fromlist=[name])
            found.append(getattr(mod, name))
        except (ImportError, AttributeError):
            continue
    return tuple(found) or (WarehouseError,)


if __name__ == "__main__":
    main()
