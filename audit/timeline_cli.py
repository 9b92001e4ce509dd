"""``motcua dossier timeline ID``: one dossier's events, states and SLA arithmetic (``dossier.timeline``).

The events come from the log (the dossier's partition, found by its key), from ClickHouse's event archive,
or from an event file; the explanation is the same pure function whichever the source.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import orjson
import typer
from aiokafka import ConsumerRecord

from audit.eventfile import file_lines
from audit.kafka_range import PartitionRange, consumer, log_ranges, read_ranges, stop
from audit.options import PeriodOption, parse_datetime, usage_error
from audit.replay_cli import PrefixOption, TopicOption
from dossier.calendar import date_of_day, default_calendar, local_day
from dossier.contract import ClockTick, InvalidRecord, ParsedEvent, decode_record, dossier_key
from dossier.periods import PERIOD_KINDS, periods_overlapping
from dossier.timeline import Timeline, explain
from wire.partitioner import key_partition
from wire.settings import Settings
from wire.topics import Topics

dossier_app = typer.Typer(help="One dossier, explained.", no_args_is_help=True)
SOURCES = ("kafka", "clickhouse", "file")


def _decoded(raws: list[bytes | str], where: str) -> list[ParsedEvent]:
    """The valid events among a dossier's records (in arrival order); others are reported on stderr."""
    events = []
    for i, raw in enumerate(raws, 1):
        try:
            record = decode_record(raw)
        except InvalidRecord as invalid:
            sys.stderr.write(f"{where}: record {i}: invalid: {'; '.join(map(str, invalid.violations))}\n")
            continue
        if not isinstance(record, ClockTick):
            events.append(record)
    return events


def from_file(path: Path, dossier_id: str) -> list[bytes | str]:
    try:
        return [line for _, line in file_lines(path) if dossier_key(line) == dossier_id]
    except OSError as error:
        usage_error(f"--events: cannot read {path}: {error.strerror or error}")


def from_kafka(topic: str, dossier_id: str) -> list[bytes | str]:
    """The records keyed by the dossier id in its partition (murmur2 of the key, as producers partition)."""
    bootstrap = Settings().bootstrap_servers()
    try:
        _, whole = log_ranges(bootstrap, topic, None)
    except LookupError as error:
        usage_error(str(error))
    partition = key_partition(dossier_id.encode(), len(whole))
    found: list[bytes | str] = []
    key = dossier_id.encode()

    def keep(partition: int, records: list[ConsumerRecord[bytes, bytes]], read: int) -> None:
        found.extend(r.value for r in records if r.key == key and r.value is not None)

    async def read(ranges: list[PartitionRange]) -> None:
        client = consumer(bootstrap)
        await client.start()
        try:
            await read_ranges(client, topic, ranges, keep)
        finally:
            await stop(client)

    asyncio.run(read([r for r in whole if r.partition == partition]))
    return found


def from_clickhouse(database: str | None, dossier_id: str) -> list[bytes | str]:
    """The archived records of the dossier (each record once, however often it was delivered), by offset."""
    from clickhouse_driver.errors import Error as ClickHouseError

    from wire.runtime import clickhouse_client

    settings = Settings().clickhouse_settings()
    db = database or settings["database"]
    client = clickhouse_client(settings, connect_timeout=5)
    try:
        rows = client.execute(
            f"SELECT any(payload), _offset FROM {db}.events WHERE dossier_id = %(id)s "
            "GROUP BY _partition, _offset ORDER BY _offset",
            {"id": dossier_id},
        )
    except (ClickHouseError, OSError, EOFError) as error:
        usage_error(f"cannot read ClickHouse ({db}): {str(error).splitlines()[0]}")
    finally:
        client.disconnect()
    return [payload for payload, _ in rows]


def render_text(t: Timeline) -> str:
    out = [f"Dossier {t.dossier_id}" + ("" if t.accepted else ": never accepted, counted in no KPI")]
    out.append("\nEvents, in state-machine order (occurred_at, then arrival):")
    for e in t.events:
        mark = "" if e.counts else "  [ignored]"
        status = "-" if e.status is None else str(e.status)
        out.append(f"  {e.occurred_at}  #{e.arrival:<3} {e.type:<21} status {status:<2} {e.standing}{mark}"
                   + (f"; {e.note}" if e.note else ""))
    if t.duplicates:
        out.append(f"  duplicates ignored (the first received won): {', '.join(t.duplicates)}")
    if t.due is not None:
        d = t.due
        out.append(f"\nDue instant: {d.due_at} ({'the receipt' if d.basis == 'due_at' else 'from the deadline'})")
        if d.start is not None:
            out.append(f"  {d.start_note}")
        out += [f"  {step}" for step in d.steps]
        if d.intervals:
            out.append("  working intervals counted:")
            out += [f"    {i.start} -> {i.end[11:19]}  {i.seconds / 3600:g} h  (total {i.total_seconds / 3600:g} h)"
                    for i in d.intervals]
        if d.skipped:
            out.append("  days skipped:")
            out += [f"    {s.day}  {s.reason}" for s in d.skipped]
    if t.pauses:
        out.append("\nSupplementation pauses (wall-clock time):")
        out += [f"  {p.requested} -> {p.received or 'still waiting'}"
                + ("" if p.seconds is None else f": {p.seconds / 3600:g} h") for p in t.pauses]
    if t.verdict is not None:
        v = t.verdict
        out.append(f"\nVerdict: {v.outcome}" + ("" if v.finished else f" (open at {v.at})"))
        out += [f"  {step}" for step in v.steps]
    if t.timers:
        out.append("\nAlert timers:")
        out += [f"  {timer.kind} at {timer.at}: {timer.note}" for timer in t.timers]
    if t.rows:
        out.append("\nKPI rows it counts in (the counts it adds 1 to):")
        for r in t.rows:
            merged = f" (2025 hierarchy: {r.scope_id_2025})" if r.scope_id_2025 else ""
            out.append(f"  {r.scope} {r.scope_id}{merged} {r.period} {r.period_start}: {', '.join(r.counts)}")
    return "\n".join(out) + "\n"


@dossier_app.command("timeline")
def timeline(
    dossier_id: Annotated[str, typer.Argument(help="The dossier (MaHoSo).")],
    source: Annotated[str, typer.Option("--source", help="kafka (the log), clickhouse (the event archive) or "
                                        "file (--events) [default: file with --events, else kafka].")] = "",
    events: Annotated[Path | None, typer.Option("--events", help="An event file (JSON lines).")] = None,
    at: Annotated[str | None, typer.Option("--at", help="Judge an open dossier at this RFC 3339 instant "
                                           "[default: now].")] = None,
    period: PeriodOption = "month",
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    topic: TopicOption = None,
    topic_prefix: PrefixOption = "",
    database: Annotated[str | None, typer.Option("--database", help="[default: MOTCUA_CLICKHOUSE_DATABASE]")] = None,
) -> None:
    """Every event and state of one dossier, and its SLA arithmetic step by step: the working intervals
    counted, the pauses, the days skipped, the due instant and how it follows, the verdict, the KPI rows."""
    source = source or ("file" if events is not None else "kafka")
    if source not in SOURCES:
        usage_error(f"--source: {source!r} is not one of {', '.join(SOURCES)}")
    if period not in PERIOD_KINDS:
        usage_error(f"--period: {period!r} is not one of {', '.join(PERIOD_KINDS)}")
    if fmt not in ("text", "json"):
        usage_error(f"--format: {fmt!r} is not one of text, json")
    judged_at = time.time() if at is None else parse_datetime("--at", at)
    if source == "file":
        if events is None:
            usage_error("--events FILE is required with --source file")
        raws, where = from_file(events, dossier_id), str(events)
    elif source == "kafka":
        where = topic or Topics.with_prefix(topic_prefix).events
        raws = from_kafka(where, dossier_id)
    else:
        raws, where = from_clickhouse(database, dossier_id), "clickhouse"
    found = _decoded(raws, where)
    if not found:
        sys.stderr.write(f"motcua dossier timeline: no valid event of {dossier_id} in {where}\n")
        raise typer.Exit(1)
    first = date_of_day(local_day(min(e.occurred_ts for e in found)))
    last = date_of_day(local_day(max(judged_at, *(e.occurred_ts for e in found)))) + timedelta(days=1)
    periods = periods_overlapping(period, first, max(first, last))  # type: ignore[arg-type]
    explained = explain(found, default_calendar(), judged_at, periods)
    if fmt == "json":
        sys.stdout.buffer.write(orjson.dumps(dataclasses.asdict(explained), option=orjson.OPT_INDENT_2) + b"\n")
    else:
        sys.stdout.write(render_text(explained))


def register(app: typer.Typer) -> None:
    app.add_typer(dossier_app, name="dossier")

