"""``motcua audit diff``: the KPI rows ClickHouse holds against a replay of the log (or an event file)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from audit.diff import FORMATS, Evidence, Key, Report, RowDiff, collect, compare, explain, render
from audit.dossiers import ReadStats
from audit.eventfile import no_cyclic_gc, read_dossiers
from audit.kpi_report import file_kpi_table
from audit.options import (
    FromOption,
    HierarchyOption,
    PeriodOption,
    RowsQuery,
    ScopeOption,
    ToOption,
    rows_query,
    usage_error,
)
from audit.replay_cli import (
    LogRange,
    LogUntilOption,
    OffsetsOption,
    PrefixOption,
    ProgressOption,
    TopicOption,
    WorkersOption,
    describe_stats,
    merged_table,
    total_stats,
)
from dossier.calendar import default_calendar
from dossier.contract import ParsedEvent, Violation
from dossier.kpi import COUNT_FIELDS, KpiTable
from dossier.merger import codes_in
from dossier.periods import make_period

audit_app = typer.Typer(help="Audit the stored KPIs against the log of record.", no_args_is_help=True)


class Sources:
    """The replayed side of a diff: an event file, or a range of the log."""

    def __init__(self, query: RowsQuery, events: Path | None, log: LogRange | None, workers: int,
                 progress: bool | None) -> None:
        self.query, self.events, self.log, self.workers, self.progress = query, events, log, workers, progress

    @property
    def name(self) -> str:
        if self.events is not None:
            return str(self.events)
        assert self.log is not None
        return f"{self.log.topic} ({sum(len(r) for r in self.log.ranges):,} records)"

    def table(self) -> tuple[KpiTable, ReadStats]:
        q = self.query
        if self.events is not None:
            try:
                return file_kpi_table(self.events, q.period, q.first, q.last, default_calendar(), _report_line)
            except OSError as error:
                usage_error(f"--events: cannot read {self.events}: {error.strerror or error}")
        assert self.log is not None
        results = self.log.run(q, "rows", self.workers, self.progress)
        return merged_table(q, results), total_stats(results)

    def evidence(self, scope_ids: frozenset[str]) -> dict[str, Evidence]:
        """The replayed dossiers of the rows of ``scope_ids`` (a second pass over the source)."""
        q = self.query
        if self.events is not None:
            with no_cyclic_gc(), read_dossiers(self.events, _ignore) as dossiers:
                return collect(dossiers.dossiers(), default_calendar(), q.scope, q.hierarchy, scope_ids)
        assert self.log is not None
        results = self.log.run(q, "evidence", self.workers, self.progress, scope=q.scope, hierarchy=q.hierarchy,
                               scope_ids=scope_ids)
        return {k: v for result in results for k, v in result.evidence.items()}


def _report_line(number: int, violations: list[Violation]) -> None:
    sys.stderr.write(f"line {number}: invalid: {'; '.join(map(str, violations))}\n")


def _ignore(number: int, violations: list[Violation]) -> None:
    """Invalid records were reported by the first pass."""


def replayed_counts(table: KpiTable, query: RowsQuery) -> dict[Key, list[int]]:
    return {(row["scope_id"], row["period_start"]): [row[f] for f in COUNT_FIELDS]
            for row in table.rows(query.scope, query.hierarchy)}


def archived_evidence(client: Any, database: str, query: RowsQuery, rows: Sequence[RowDiff]) -> dict[str, Evidence]:
    """The archive's dossiers of the rows (ClickHouse's ``events``, through the same core)."""
    from audit.clickhouse_source import archived_dossiers

    before = max(make_period(query.period, date.fromisoformat(r.period_start)).end for r in rows)
    scope_ids = frozenset(r.scope_id for r in rows)
    codes = sorted({code for scope_id in scope_ids for code in codes_in(query.hierarchy, query.scope, scope_id)})
    dossiers: Iterable[list[ParsedEvent]] = archived_dossiers(client, database, query.scope, codes, before)
    return collect(dossiers, default_calendar(), query.scope, query.hierarchy, scope_ids)


@audit_app.command("diff")
def diff(
    period: PeriodOption,
    from_: FromOption,
    to: ToOption,
    scope: ScopeOption = "province",
    hierarchy: HierarchyOption = "legacy",
    events: Annotated[Path | None, typer.Option("--events", help="Replay this event file instead of the log.")] = None,
    log_until: LogUntilOption = "end",
    offsets: OffsetsOption = None,
    workers: WorkersOption = 1,
    topic: TopicOption = None,
    topic_prefix: PrefixOption = "",
    database: Annotated[str | None, typer.Option("--database", help="[default: MOTCUA_CLICKHOUSE_DATABASE]")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, markdown, csv or json.")] = "text",
    explain_rows: Annotated[int, typer.Option("--explain", min=0, help="Differing rows whose dossiers are "
                                              "looked up (the first N).")] = 20,
    dossiers: Annotated[int, typer.Option("--dossiers", min=1, help="Dossiers named per measure, at most.")] = 50,
    progress: ProgressOption = None,
) -> None:
    """Compare the KPI rows ClickHouse holds with those recomputed from the log (or --events FILE), for a
    period x scope: every differing row, measure, stored and replayed value, and the dossiers whose
    contribution differs, with their event ids. Exit status 1 when anything differs."""
    from clickhouse_driver.errors import Error as ClickHouseError

    from audit.clickhouse_source import stored_rows
    from wire.runtime import clickhouse_client
    from wire.settings import Settings

    query = rows_query(period, from_, to, scope, hierarchy)
    if fmt not in FORMATS:
        usage_error(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    log = None if events is not None else LogRange.plan(query, log_until, offsets, topic, topic_prefix)
    source = Sources(query, events, log, workers, progress)
    settings = Settings().clickhouse_settings()
    db = database or settings["database"]
    with no_cyclic_gc():
        table, stats = source.table()
    sys.stderr.write(f"motcua audit diff: {source.name}: {describe_stats(stats)}\n")
    client = clickhouse_client(settings, connect_timeout=5)
    try:
        stored = {(scope_id, start.isoformat()): (counts, provisional) for scope_id, start, counts, provisional
                  in stored_rows(client, db, query.period, query.scope, query.first, query.last, query.hierarchy)}
        differing, provisional, compared = compare(stored, replayed_counts(table, query), query.scope, query.period)
        explained = differing[:explain_rows]
        if explained:
            replayed = source.evidence(frozenset(r.scope_id for r in explained))
            archived = archived_evidence(client, db, query, explained)
            calendar = default_calendar()
            for row in explained:
                period_of_row = make_period(query.period, date.fromisoformat(row.period_start))
                explain(row, period_of_row, replayed, archived, calendar, query.scope, query.hierarchy, dossiers)
    except (ClickHouseError, OSError, EOFError) as error:
        usage_error(f"cannot read ClickHouse ({db}): {str(error).splitlines()[0]}")
    finally:
        client.disconnect()
    where = f"clickhouse://{settings['host']}:{settings['port']}/{db}"
    report = Report(query.scope, query.period, str(query.first), str(query.last), query.hierarchy, source.name, where,
                    compared, differing, [f"{scope_id} {start}" for scope_id, start in provisional],
                    max(0, len(differing) - explain_rows))
    sys.stdout.write(render(report, fmt))  # type: ignore[arg-type]
    sys.stdout.flush()
    if report.differs:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
