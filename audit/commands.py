"""The audit commands of DOMAIN.md section 7: ``motcua sla due`` and ``motcua kpi``.

They need no running service: they run the same pure core the stream processors run, so anyone can check
a live number by recomputing it from the events.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import typer

from audit.kpi_report import kpi_rows, write_rows
from audit.options import (
    FromOption,
    HierarchyOption,
    PeriodOption,
    RowsQuery,
    ScopeOption,
    ToOption,
    parse_datetime,
    rows_query,
    usage_error,
)
from dossier.calendar import default_calendar, format_instant
from dossier.contract import Violation
from dossier.sla import DEADLINE_UNITS, DeadlineUnit, due_instant

sla_app = typer.Typer(help="SLA clock questions, answered from the working calendar alone.", no_args_is_help=True)


@sla_app.command("due")
def sla_due(
    accepted_at: Annotated[str, typer.Option("--accepted-at", help="Acceptance instant, RFC 3339 with offset.")],
    deadline: Annotated[str, typer.Option("--deadline", help="Legal processing time, e.g. 3 or 0.5.")],
    unit: Annotated[str, typer.Option("--unit", help="working_days, working_hours or calendar_days.")],
) -> None:
    """Print the due instant of a deadline counted from an acceptance, in +07:00."""
    accepted_ts = parse_datetime("--accepted-at", accepted_at)
    try:
        value = float(deadline)
    except ValueError:
        usage_error(f"--deadline: {deadline!r} is not a number")
    if not math.isfinite(value) or value < 0:
        usage_error(f"--deadline: {deadline!r} must be a finite number, not negative")
    if unit not in DEADLINE_UNITS:
        usage_error(f"--unit: {unit!r} is not one of {', '.join(DEADLINE_UNITS)}")
    deadline_unit: DeadlineUnit = unit  # type: ignore[assignment]
    if deadline_unit == "calendar_days" and value % 1:
        usage_error(f"--deadline: calendar_days must be whole days, not {deadline}")
    typer.echo(format_instant(due_instant(accepted_ts, value, deadline_unit, default_calendar())))


def kpi(
    period: PeriodOption,
    from_: FromOption,
    to: ToOption,
    events: Annotated[
        Path | None, typer.Option("--events", help="Event file: one JSON object a line, in any order.")
    ] = None,
    scope: ScopeOption = "province",
    source: Annotated[
        str, typer.Option("--source", help="file (recompute from --events) or clickhouse (the stored live rows).")
    ] = "file",
    hierarchy: HierarchyOption = "legacy",
) -> None:
    """Print the KPI rows of every period overlapping [from, to) as JSON lines, from an event file or as the
    live pipeline stored them in ClickHouse (same format: compare the two with diff)."""
    query = rows_query(period, from_, to, scope, hierarchy)
    if source == "clickhouse":
        _print_stored_rows(query)
        return
    if source != "file":
        usage_error(f"--source: {source!r} is not one of file, clickhouse")
    if events is None:
        usage_error("--events FILE is required with --source file")

    def report_invalid(line_number: int, violations: list[Violation]) -> None:
        reasons = "; ".join(str(v) for v in violations)
        sys.stderr.write(f"{events}: line {line_number}: invalid: {reasons}\n")

    try:
        rows, stats = kpi_rows(
            events, query.period, query.scope, query.first, query.last, default_calendar(), report_invalid,
            query.hierarchy,
        )
    except OSError as error:
        usage_error(f"--events: cannot read {events}: {error.strerror or error}")
    write_rows(rows, sys.stdout.buffer)
    sys.stdout.flush()
    sys.stderr.write(f"motcua kpi: {events}: {stats.summary()}; {len(rows)} rows\n")


def _print_stored_rows(query: RowsQuery) -> None:
    # imported here: the file audit needs no ClickHouse client, and start-up time matters to scripts
    from clickhouse_driver.errors import Error as ClickHouseError

    from audit.clickhouse_source import read_stored_kpi_rows

    try:
        rows, provisional, where = read_stored_kpi_rows(
            query.period, query.scope, query.first, query.last, query.hierarchy
        )
    except (ClickHouseError, OSError, EOFError) as error:
        usage_error(f"--source clickhouse: cannot read the stored rows: {str(error).splitlines()[0]}")
    write_rows(rows, sys.stdout.buffer)
    sys.stdout.flush()
    sys.stderr.write(f"motcua kpi: {where}: {len(rows)} rows ({provisional} provisional)\n")


def register(app: typer.Typer) -> None:
    """Add ``sla`` and ``kpi`` to the root ``motcua`` app."""
    app.add_typer(sla_app, name="sla")
    app.command("kpi")(kpi)
