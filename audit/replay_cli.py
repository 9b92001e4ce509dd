"""``motcua replay``: the KPI rows (or transitions, or alerts) of a range of the log of record, recomputed."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from kafka.errors import KafkaError

from audit.dossiers import ReadStats
from audit.kafka_range import PartitionRange, log_ranges, parse_offsets
from audit.kpi_report import write_rows
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
from audit.replay import OUTPUTS, Output, Progress, Result, WorkerFailed, jobs_for, replay
from dossier.calendar import day_number, day_start, default_calendar, format_instant
from dossier.kpi import KpiTable
from dossier.periods import periods_overlapping
from wire.settings import Settings
from wire.topics import Topics

OffsetsOption = Annotated[
    str | None,
    typer.Option("--offsets", help="Only these offsets: P:A-B,... (partition P from offset A to B, B excluded; "
                 "P:A- to the end of the range). Partitions not named are not read."),
]
LogUntilOption = Annotated[
    str,
    typer.Option("--log-until", help="Where each partition's range ends: 'to' (the first record appended at or "
                 "after --to, by record timestamp), 'end' (the log's end now) or an RFC 3339 instant."),
]
TopicOption = Annotated[str | None, typer.Option("--topic", help="The log to read [default: <prefix>dossier.events].")]
PrefixOption = Annotated[str, typer.Option("--topic-prefix", help="Read <prefix>dossier.events (tests).")]
WorkersOption = Annotated[int, typer.Option("--workers", min=1, help="Partitions replayed in parallel processes.")]
ProgressOption = Annotated[
    bool | None, typer.Option("--progress/--no-progress", help="Progress bar on stderr [default: when a terminal].")
]


def until_ms(log_until: str, query: RowsQuery) -> int | None:
    """The record timestamp (ms) the range ends at, or None for the log's end."""
    if log_until == "end":
        return None
    instant = day_start(day_number(query.last)) if log_until == "to" else parse_datetime("--log-until", log_until)
    return int(instant * 1000)


def read_plan(
    topic: str, until: int | None, offsets: str | None
) -> tuple[list[PartitionRange], list[PartitionRange]]:
    """The ranges to read and the whole log's ranges now (for what is left out), or a usage error."""
    try:
        wanted = parse_offsets(offsets) if offsets is not None else None
    except ValueError as error:
        usage_error(f"--offsets: {error}")

    try:
        return log_ranges(Settings().bootstrap_servers(), topic, until, wanted)
    except LookupError as error:
        usage_error(str(error))
    except KafkaError as error:
        usage_error(f"cannot read {topic} from Kafka at {Settings().bootstrap_servers()}: {error}")


def describe_plan(topic: str, ranges: list[PartitionRange], whole: list[PartitionRange], until: int | None) -> str:
    records = sum(len(r) for r in ranges)
    ends = {r.partition: r.end for r in whole}
    later = sum(ends[r.partition] - r.end for r in ranges)
    bound = "the log's end" if until is None else f"records appended before {format_instant(until / 1000)}"
    text = f"{topic}: {len(ranges)} partitions, {records:,} records ({bound})"
    if later:
        text += f"; {later:,} later records not read (--log-until end reads them)"
    return text


def progress_display(ranges: list[PartitionRange], progress: Progress, workers: int, show: bool) -> tuple[
    Callable[[], None], Callable[[], None]
]:
    """(update, close) of a rich progress bar on stderr: records read of the range, events/s, lag to its end."""
    if not show:
        return (lambda: None), (lambda: None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    total = sum(len(r) for r in ranges)
    bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
              TextColumn("{task.fields[rate]:>9,.0f} events/s  lag {task.fields[lag]:,}  {task.fields[stage]}"),
              TimeElapsedColumn(), console=Console(stderr=True), transient=False)
    task = bar.add_task("replay", total=total, rate=0.0, lag=total, stage="")
    started = time.monotonic()
    bar.start()

    def update() -> None:
        read = sum(progress.read[: len(ranges)])
        done = sum(progress.buckets[0 : 2 * workers : 2])
        buckets = sum(progress.buckets[1 : 2 * workers : 2])
        stage = f"dossiers: {done}/{buckets} buckets" if buckets else ""
        bar.update(task, completed=read, rate=read / max(1e-9, time.monotonic() - started), lag=total - read,
                   stage=stage)

    return update, bar.stop


def print_outputs(results: list[Result], ranges: list[PartitionRange]) -> None:
    """Transitions or alerts, partition after partition, each in offset order."""
    files = {p: path for result in results for p, path in result.files.items()}
    out = sys.stdout.buffer
    for r in sorted(ranges, key=lambda r: r.partition):
        with files[r.partition].open("rb") as f:
            shutil.copyfileobj(f, out)
    out.flush()


def replay_command(
    period: PeriodOption,
    from_: FromOption,
    to: ToOption,
    scope: ScopeOption = "province",
    hierarchy: HierarchyOption = "legacy",
    offsets: OffsetsOption = None,
    log_until: LogUntilOption = "to",
    output: Annotated[str, typer.Option("--print", help="rows (KPI rows, as motcua kpi prints them), "
                                        "transitions or alerts (as the live worker emits them).")] = "rows",
    workers: WorkersOption = 1,
    topic: TopicOption = None,
    topic_prefix: PrefixOption = "",
    progress: ProgressOption = None,
) -> None:
    """Replay a range of the log of record (dossier.events) through the core: print exactly what `motcua kpi
    --events` prints for the same events (or the transitions / alerts). No consumer group is joined, nothing is
    committed: live offsets never move."""
    query = rows_query(period, from_, to, scope, hierarchy)
    if output not in OUTPUTS:
        usage_error(f"--print: {output!r} is not one of {', '.join(OUTPUTS)}")
    log = LogRange.plan(query, log_until, offsets, topic, topic_prefix)
    with tempfile.TemporaryDirectory(prefix="motcua-replay-") as scratch:
        results = log.run(query, output, workers, progress, out_dir=Path(scratch))  # type: ignore[arg-type]
        if output != "rows":
            print_outputs(results, log.ranges)
    stats = total_stats(results)
    printed = output
    if output == "rows":
        rows = merged_table(query, results).rows(query.scope, query.hierarchy)
        write_rows(rows, sys.stdout.buffer)
        sys.stdout.flush()
        printed = f"{len(rows)} rows"
    sys.stderr.write(f"motcua replay: {describe_stats(stats)}; {printed}\n")


def total_stats(results: list[Result]) -> ReadStats:
    stats = ReadStats()
    for result in results:
        stats.add(result.stats)
    return stats


def describe_stats(stats: ReadStats) -> str:
    return stats.summary().replace(" lines:", " records:").removesuffix(", 0 blank")


def merged_table(query: RowsQuery, results: list[Result]) -> KpiTable:
    """The workers' counts added up."""
    periods = periods_overlapping(query.period, query.first, query.last) if query.first < query.last else []
    table = KpiTable(periods, default_calendar())
    for result in results:
        table.merge(result.cells)
    return table


@dataclass(frozen=True)
class LogRange:
    """The range of the log a command reads, planned (and said on stderr) before it is read."""

    topic: str
    ranges: list[PartitionRange]

    @classmethod
    def plan(cls, query: RowsQuery, log_until: str, offsets: str | None, topic: str | None, prefix: str) -> LogRange:
        events_topic = topic or Topics.with_prefix(prefix).events
        until = until_ms(log_until, query)
        ranges, whole = read_plan(events_topic, until, offsets)
        sys.stderr.write(f"motcua: {describe_plan(events_topic, ranges, whole, until)}\n")
        return cls(events_topic, ranges)

    def run(self, query: RowsQuery, output: Output, workers: int, progress: bool | None, **job: Any) -> list[Result]:
        """The range replayed by ``workers`` processes with a progress bar; exits 1 when a worker fails."""
        show = sys.stderr.isatty() if progress is None else progress
        jobs = jobs_for(self.ranges, workers, bootstrap=Settings().bootstrap_servers(), topic=self.topic,
                        output=output, period=query.period, first=query.first, last=query.last, **job)
        shared = Progress(len(self.ranges), len(jobs))
        update, close = progress_display(self.ranges, shared, len(jobs), show)
        try:
            return replay(jobs, shared, update)
        except WorkerFailed as failure:
            sys.stderr.write(f"motcua: a replay worker failed:\n{failure}\n")
            raise typer.Exit(1) from None
        finally:
            close()


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_command)
