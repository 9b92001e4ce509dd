"""Per topic, one pure function from a chunk of Kafka records to table columns (Snuba's processors).

Each returns the columns of its table in ``sinks.tables`` order, the records the rows came from (so a row
ClickHouse refuses can go to the DLQ as the bytes that were read), the records it refused with the
reason, and how many it skipped on purpose (clock ticks, compaction tombstones). Columns are built a
column at a time from the decoded records: it is the sink's hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from dossier.contract import STATUS_BY_TYPE, ClockTick, InvalidRecord, ParsedEvent, decode_record
from dossier.kpi import COUNT_FIELDS, RATE_FIELDS
from sinks.tables import ALERTS, DLQ, EVENTS, KPIS, TRANSITIONS, Table
from wire import records
from wire.dlq import PREFIX as DLQ_HEADER_PREFIX
from wire.dlq import reason_text


class Message(Protocol):
    """What the sink reads of a Kafka record (aiokafka's ``ConsumerRecord`` has these attributes)."""

    topic: str
    partition: int
    offset: int
    timestamp: int  # milliseconds since the epoch
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Refusal:
    """A record that will not be stored: ``stage`` is ``validate`` (breaks its topic's format) or ``sink``."""

    message: Message
    stage: str
    reason: str


@dataclass(slots=True)
class Processed:
    table: Table
    columns: list[list[Any]]
    sources: list[Message]
    refusals: list[Refusal] = field(default_factory=list)
    skipped: int = 0


Processor = Callable[[str, int, Sequence[Message]], Processed]
"""(topic, partition, that partition's records in offset order) -> rows."""


def _kafka_columns(topic: str, partition: int, sources: Sequence[Message]) -> list[list[Any]]:
    return [
        [topic] * len(sources),
        [partition] * len(sources),
        [m.offset for m in sources],
        [m.timestamp // 1000 for m in sources],
    ]


def _seconds(values: Sequence[float | None]) -> list[int | None]:
    return [None if v is None else int(v) for v in values]


def _refuse(message: Message, error: InvalidRecord) -> Refusal:
    return Refusal(message, "validate", reason_text(error.violations))


def process_events(topic: str, partition: int, messages: Sequence[Message]) -> Processed:
    """``dossier.events``: every valid event to the archive; clock ticks skipped; invalid records refused."""
    parsed: list[ParsedEvent] = []
    sources: list[Message] = []
    refusals: list[Refusal] = []
    skipped = 0
    for m in messages:
        if m.value is None:
            refusals.append(Refusal(m, "validate", "empty record (no value)"))
            continue
        try:
            record = decode_record(m.value)
        except InvalidRecord as invalid:
            refusals.append(_refuse(m, invalid))
            continue
        if isinstance(record, ClockTick):
            skipped += 1  # not an event, not an error
        else:
            parsed.append(record)
            sources.append(m)
    events = [p.record for p in parsed]
    occurred = [p.occurred_ts for p in parsed]
    seconds = [int(t) for t in occurred]
    columns = [
        [e.dossier_id for e in events],
        [e.event_id for e in events],
        [e.type for e in events],
        seconds,
        [0 if t == s else min(999_999, round((t - s) * 1_000_000)) for t, s in zip(occurred, seconds, strict=True)],
        [e.province for e in events],
        [e.unit for e in events],
        [e.procedure_code for e in events],
        [e.procedure_field or "" for e in events],
        [e.status or STATUS_BY_TYPE[e.type] or 0 for e in events],
        [e.officer or "" for e in events],
        [m.value for m in sources],
        *_kafka_columns(topic, partition, sources),
    ]
    return Processed(EVENTS, columns, sources, refusals, skipped)


def _decode_all(
    messages: Sequence[Message], decode: Callable[[bytes | None], Any], tombstones_skipped: bool = False
) -> tuple[list[Any], list[Message], list[Refusal], int]:
    decoded: list[Any] = []
    sources: list[Message] = []
    refusals: list[Refusal] = []
    skipped = 0
    for m in messages:
        if m.value is None and tombstones_skipped:
            skipped += 1
            continue
        try:
            decoded.append(decode(m.value))
            sources.append(m)
        except InvalidRecord as invalid:
            refusals.append(_refuse(m, invalid))
    return decoded, sources, refusals, skipped


def process_transitions(topic: str, partition: int, messages: Sequence[Message]) -> Processed:
    """``dossier.transitions`` -> ``transitions`` (the ``dossiers`` standing follows by materialized view)."""
    rows, sources, refusals, skipped = _decode_all(messages, records.decode_transition)
    columns = [
        [t.transition_id for t in rows],
        [t.dossier_id for t in rows],
        [t.kind for t in rows],
        [int(records.instant("at", t.at)) for t in rows],
        [t.province for t in rows],
        [t.unit for t in rows],
        [t.procedure_code for t in rows],
        [t.procedure_field or "" for t in rows],
        [t.officer or "" for t in rows],
        _seconds([records.optional_instant("due_at", t.due_at) for t in rows]),
        [t.outcome or "" for t in rows],
        [t.end_type or "" for t in rows],
        *_kafka_columns(topic, partition, sources),
    ]
    return Processed(TRANSITIONS, columns, sources, refusals, skipped)


def process_kpis(topic: str, partition: int, messages: Sequence[Message]) -> Processed:
    """``dossier.kpis`` -> ``kpis``; a compaction tombstone (no value) is skipped."""
    rows, sources, refusals, skipped = _decode_all(messages, records.decode_kpi_row, tombstones_skipped=True)
    columns = [
        [r.scope for r in rows],
        [r.scope_id for r in rows],
        [r.period for r in rows],
        [date.fromisoformat(r.period_start) for r in rows],
        *([getattr(r, name) for r in rows] for name in COUNT_FIELDS),
        *([getattr(r, name) for r in rows] for name in RATE_FIELDS),
        [1 if r.provisional else 0 for r in rows],
        [int(records.optional_instant("watermark", r.watermark) or 0) for r in rows],
        *_kafka_columns(topic, partition, sources),
    ]
    return Processed(KPIS, columns, sources, refusals, skipped)


def process_alerts(topic: str, partition: int, messages: Sequence[Message]) -> Processed:
    rows, sources, refusals, skipped = _decode_all(messages, records.decode_alert)
    columns = [
        [a.alert_id for a in rows],
        [a.kind for a in rows],
        [int(records.instant("at", a.at)) for a in rows],
        [a.province for a in rows],
        [a.unit for a in rows],
        [a.dossier_id or "" for a in rows],
        [a.officer or "" for a in rows],
        _seconds([records.optional_instant("due_at", a.due_at) for a in rows]),
        [a.rate for a in rows],
        [a.threshold for a in rows],
        [None if a.period_start is None else date.fromisoformat(a.period_start) for a in rows],
        [a.message for a in rows],
        *_kafka_columns(topic, partition, sources),
    ]
    return Processed(ALERTS, columns, sources, refusals, skipped)


def _header_text(headers: dict[str, bytes], name: str) -> str:
    return headers.get(DLQ_HEADER_PREFIX + name, b"").decode("utf-8", "replace")


def _origin(m: Message, headers: dict[str, bytes]) -> tuple[str, int, int]:
    """Where the refused record was read; the DLQ record's own coordinates when it never was."""
    topic = _header_text(headers, "topic")
    try:
        return (topic, int(_header_text(headers, "partition")), int(_header_text(headers, "offset"))) if topic else (
            m.topic, m.partition, m.offset
        )
    except ValueError:
        return m.topic, m.partition, m.offset


def _refused_at(m: Message, headers: dict[str, bytes]) -> int:
    """The header's instant when it is one DateTime can hold, else the DLQ record's own timestamp."""
    try:
        at = int(records.instant("at", _header_text(headers, "at")))
    except InvalidRecord:
        at = -1
    return at if 0 <= at < 2**32 else m.timestamp // 1000


def process_dlq(topic: str, partition: int, messages: Sequence[Message]) -> Processed:
    """``dossier.dlq`` -> ``dlq``: every record is kept, whatever its bytes; reasons come from its headers."""
    headers = [dict(m.headers or ()) for m in messages]
    origins = [_origin(m, h) for m, h in zip(messages, headers, strict=True)]
    columns = [
        [o[0] for o in origins],
        [o[1] for o in origins],
        [o[2] for o in origins],
        [_header_text(h, "stage") for h in headers],
        [_header_text(h, "source") for h in headers],
        [_header_text(h, "reason") for h in headers],
        [_refused_at(m, h) for m, h in zip(messages, headers, strict=True)],
        [m.key or b"" for m in messages],
        [m.value or b"" for m in messages],
        *_kafka_columns(topic, partition, messages),
    ]
    return Processed(DLQ, columns, list(messages))


PROCESSORS: dict[str, Processor] = {
    "events": process_events,
    "transitions": process_transitions,
    "kpis": process_kpis,
    "alerts": process_alerts,
    "dlq": process_dlq,
}
"""By topic role; the role's default topic is ``dossier.<role>`` (``sinks.config``)."""
