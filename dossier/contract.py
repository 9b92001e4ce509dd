"""The dossier-event/1 contract (DOMAIN.md sections 2 and 8).

The JSON Schema files under ``dossier/schema/`` are the single source of truth. Two readers implement them:

* a fast path, a msgspec ``Struct`` that decodes a valid record in C, used on every hot path;
* a full validator on top of ``jsonschema`` that names *every* violation of a record with its field and
  reason, used when the fast path refuses a record (the rare case), so that errors stay explicit.

``tests/domain/test_contract_schema.py`` checks that both readers accept and refuse the same records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from operator import attrgetter
from typing import Annotated, Any, Literal

import msgspec

EVENT_SCHEMA = "dossier-event/1"
TICK_SCHEMA = "clock-tick/1"

EVENT_TYPES: tuple[str, ...] = (
    "submitted",
    "accepted",
    "rejected",
    "processing",
    "supplement_requested",
    "supplement_received",
    "payment_requested",
    "payment_completed",
    "withdrawn",
    "stopped",
    "resolved",
    "returned",
    "apology_issued",
    "rated",
)
EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]  # the same names, for msgspec
END_TYPES = frozenset({"resolved", "returned", "stopped", "rejected", "withdrawn"})
RESULT_TYPES = frozenset({"resolved", "returned"})

#: TrangThaiHoSo after each event type; None where the event leaves the status unchanged.
STATUS_BY_TYPE: dict[str, int | None] = {
    "submitted": 1,
    "accepted": 2,
    "rejected": 3,
    "processing": 4,
    "supplement_requested": 5,
    "supplement_received": 4,
    "payment_requested": 6,
    "payment_completed": 4,
    "withdrawn": 7,
    "stopped": 8,
    "resolved": 9,
    "returned": 10,
    "apology_issued": None,
    "rated": None,
}

#: Fields that some event types require (beyond the fields every event requires).
REQUIRED_BY_TYPE: dict[str, tuple[str, ...]] = {
    "submitted": ("online_level", "channel"),
    "accepted": ("online_level", "channel"),
    "apology_issued": ("due_at",),
    "payment_completed": ("paid_online",),
    "resolved": ("electronic_result",),
    "returned": ("return_channel",),
    "rated": ("rating",),
}

RFC3339_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
_RFC3339 = re.compile(RFC3339_PATTERN)
_NAIVE_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$")

Datetime = str  # checked by parse_timestamp, which the decoders call on every datetime
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
ChannelCode = Annotated[int, msgspec.Meta(ge=1, le=3)]


class Deadline(msgspec.Struct, frozen=True, gc=False):
    """A legal processing time: ``{"value": 3, "unit": "working_days"}``."""

    value: Annotated[float, msgspec.Meta(ge=0)]
    unit: Literal["working_days", "working_hours", "calendar_days"]


class Applicant(msgspec.Struct, frozen=True, gc=False):
    kind: Literal[1, 2] | None = None
    id_hash: str | None = None


class EventRecord(msgspec.Struct, frozen=True, gc=False):
    """A dossier event as sent. Unknown extra fields are ignored here (and kept by the archive)."""

    schema: Literal["dossier-event/1"]
    event_id: NonEmpty
    dossier_id: NonEmpty
    type: EventType
    occurred_at: Datetime
    source: NonEmpty
    province: NonEmpty
    unit: NonEmpty
    procedure_code: NonEmpty
    receiving_unit: str | None = None
    procedure_field: str | None = None
    online_level: Literal["full", "partial", "none"] | None = None
    channel: ChannelCode | None = None
    deadline: Deadline | None = None
    due_at: Datetime | None = None
    status: Annotated[int, msgspec.Meta(ge=1, le=10)] | None = None
    applicant: Applicant | None = None
    digitized: bool | None = None
    reused_data: bool | None = None
    fee: Annotated[int, msgspec.Meta(ge=0)] | None = None
    paid_online: bool | None = None
    electronic_result: bool | None = None
    return_channel: ChannelCode | None = None
    rating: Literal["satisfied", "neutral", "dissatisfied"] | None = None
    officer: str | None = None


class ClockTick(msgspec.Struct, frozen=True, gc=False):
    schema: Literal["clock-tick/1"]
    at: Datetime


@dataclass(frozen=True, slots=True)
class Violation:
    """One reason a record breaks the contract: the field (a dotted path, ``""`` for the record) and why."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


class InvalidRecord(ValueError):
    """A record that breaks the contract; ``violations`` names every problem found."""

    def __init__(self, violations: list[Violation]):
        super().__init__("; ".join(map(str, violations)))
        self.violations = violations


class InvalidTick(InvalidRecord):
    """A record that claims to be a clock tick (``"schema": "clock-tick/1"``) but is not a valid one."""


def parse_timestamp(value: str) -> float:
    """Seconds since the epoch of an RFC 3339 date-time; ``ValueError`` saying why when it is not one.

    The shape sources send (``2025-07-02T09:15:00+07:00``) is read from two small tables keyed by its two
    halves, filled as they are met: the local hour (``2025-07-02T09``; a day's 24 at once) and the rest
    (``:15:00+07:00``). Small enough to stay in the CPU's cache, it is several times faster than
    ``datetime``; every other shape takes the general rule. A key holds its separators, so a hit is that
    exact shape.
    """
    if len(value) == 25:
        hour = _HOURS.get(value[:13])
        rest = _HOUR_RESTS.get(value[13:])
        if hour is not None and rest is not None:
            return hour + rest
    if _RFC3339.match(value) is None:
        raise ValueError(_datetime_reason(value))
    if value[10] == "t" or value[-1] == "z":
        value = value.upper()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"not a valid date-time: {value!r} ({error})") from None
    if len(value) == 25 and value[19] in "+-" and len(_HOURS) + len(_HOUR_RESTS) < _CACHE_LIMIT:  # no fraction
        day = float(moment.date().toordinal() - _EPOCH_ORDINAL) * 86400.0
        _HOURS.update((f"{value[:11]}{h:02}", day + h * 3600.0) for h in range(24))
        offset = moment.utcoffset().total_seconds()  # type: ignore[union-attr]
        _HOUR_RESTS[value[13:]] = moment.minute * 60.0 + moment.second - offset
    return moment.timestamp()


_CACHE_LIMIT = 1_000_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_HOURS: dict[str, float] = {}
"""Seconds from the epoch to a local hour's start (``2025-07-02T09``), before its offset."""
_HOUR_RESTS: dict[str, float] = {}
"""Seconds into the hour less the offset (``:15:00+07:00``)."""


def _semantic_violations(record: EventRecord) -> list[Violation]:
    """The rules a Struct cannot express: per-type required fields, whole calendar days, real dates."""
    violations = [
        Violation(name, f"required on a '{record.type}' event")
        for name in REQUIRED_BY_TYPE.get(record.type, ())
        if getattr(record, name) is None
    ]
    if record.type == "accepted" and record.due_at is None and record.deadline is None:
        violations.append(Violation("due_at", "an 'accepted' event needs due_at or deadline"))
    deadline = record.deadline
    if deadline is not None and deadline.unit == "calendar_days" and deadline.value % 1:
        violations.append(Violation("deadline.value", "calendar_days must be whole days"))
    for name in ("occurred_at", "due_at"):
        value = getattr(record, name)
        if value is not None:
            try:
                parse_timestamp(value)
            except ValueError as error:
                violations.append(Violation(name, str(error)))
    return sorted(violations, key=lambda v: (v.field, v.reason))


class ParsedEvent(msgspec.Struct, frozen=True, gc=False):
    """A valid event with its datetimes parsed once: seconds since the epoch."""

    record: EventRecord
    occurred_ts: float
    due_ts: float | None


_event_decoder = msgspec.json.Decoder(EventRecord)
_events_decoder = msgspec.json.Decoder(list[EventRecord])
_tick_decoder = msgspec.json.Decoder(ClockTick)

#: Per event type, a getter of the fields it requires (with ``type``, so that it always returns a tuple).
_REQUIRED_GETTERS = {kind: attrgetter("type", *fields) for kind, fields in REQUIRED_BY_TYPE.items()}


def decode_event(line: bytes | str) -> ParsedEvent:
    """Decode one JSON record into a valid event (``decode_record``, a clock tick refused), or raise
    ``InvalidRecord`` naming every violation."""
    event = decode_record(line)
    if type(event) is ClockTick:
        raise InvalidRecord(_explain(line, "a clock tick, not an event"))
    return event


#: The event times the SLA clock can compute with: [2000-01-01, 2100-01-01) local time (the working calendar
#: starts at ``dossier.calendar.WorkingCalendar.ORIGIN``; a test keeps the two in step).
CALENDAR_SPAN = (parse_timestamp("2000-01-01T00:00:00+07:00"), parse_timestamp("2100-01-01T00:00:00+07:00"))
_SPAN_FIRST, _SPAN_END = CALENDAR_SPAN


def decode_record(raw: bytes | str) -> ParsedEvent | ClockTick:
    """A record of ``dossier.events`` (or a line of an event file): a valid event or a valid clock tick.

    The one decision of "event or clock tick" every reader shares (ingest edge, importer, streams, sink,
    audit). Raises ``InvalidTick`` for a record that claims the tick schema but is not a valid tick, and
    ``InvalidRecord`` naming every violation for anything else that is not a valid event. An event dated
    outside ``CALENDAR_SPAN`` is refused too: its SLA clock cannot be computed (an event of 1990 crashed the
    streams worker at every restart); the edge refuses such events, this keeps every reader of the log
    agreeing on those already in it.

    The record is parsed once when it is a valid event. A record the event decoder refuses is asked whether
    it claims to be a tick before it is explained as an event: a tick is never put through the event's full
    validator. (A record the event decoder accepts has the event schema, so it claims no tick.)
    """
    try:
        record = _event_decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as error:  # ValidationError is a DecodeError
        if claims_tick(raw):
            try:
                return decode_tick(raw)
            except InvalidRecord as bad_tick:
                raise InvalidTick(bad_tick.violations) from None
        raise InvalidRecord(_explain(raw, str(error))) from None
    return _valid_event(record)


def decode_events(records: bytes) -> list[ParsedEvent] | None:
    """``decode_record`` of every record of a JSON array (``[record,record]``) when each is a valid event,
    parsed in one call; None when one is not (then ask ``decode_record`` one record at a time)."""
    try:
        return list(map(_valid_event, _events_decoder.decode(records)))
    except (msgspec.DecodeError, UnicodeDecodeError, InvalidRecord):
        return None


def _valid_event(record: EventRecord) -> ParsedEvent:
    """A decoded record that is a valid event, with its instants; ``InvalidRecord`` naming every violation."""
    # The hot path of every reader: parse_timestamp's cached shape is written out here, and the checks of
    # _semantic_violations are inlined; it explains any failure.
    try:
        occurred_at, due_at = record.occurred_at, record.due_at
        hour = _HOURS.get(occurred_at[:13])
        rest = _HOUR_RESTS.get(occurred_at[13:])
        # two hits are 13 + 12 characters: the cached shape
        occurred_ts = parse_timestamp(occurred_at) if hour is None or rest is None else hour + rest
        due_ts = None if due_at is None else parse_timestamp(due_at)
    except ValueError:
        raise InvalidRecord(_semantic_violations(record)) from None
    required = _REQUIRED_GETTERS.get(record.type)
    deadline = record.deadline
    if (
        (required is not None and None in required(record))
        or (deadline is None and due_ts is None and record.type == "accepted")
        or (deadline is not None and deadline.unit == "calendar_days" and deadline.value % 1)
    ):
        raise InvalidRecord(_semantic_violations(record))
    if not _SPAN_FIRST <= occurred_ts < _SPAN_END or (due_ts is not None and not _SPAN_FIRST <= due_ts < _SPAN_END):
        raise InvalidRecord(
            [
                Violation(name, "outside the working calendar's years 2000-2099")
                for name, ts in (("occurred_at", occurred_ts), ("due_at", due_ts))
                if ts is not None and not _SPAN_FIRST <= ts < _SPAN_END
            ]
        )
    return ParsedEvent(record, occurred_ts, due_ts)


def claims_tick(raw: bytes | str) -> bool:
    """Whether a record that is not a valid event says it is a clock tick (a JSON object of that schema)."""
    try:
        record = load_json(raw)
    except InvalidRecord:
        return False
    return isinstance(record, dict) and record.get("schema") == TICK_SCHEMA


class _DossierKey(msgspec.Struct, gc=False):
    dossier_id: str


_key_decoder = msgspec.json.Decoder(_DossierKey)


def dossier_key(raw: bytes | str) -> str | None:
    """The ``dossier_id`` string of a JSON object record, read without decoding the rest; None when there is none.

    For grouping records by dossier before they are decoded: a valid event's key is its ``dossier_id``.
    """
    try:
        return _key_decoder.decode(raw).dossier_id
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


_dossier_id = attrgetter("dossier_id")


def dossier_keys(records: Iterable[bytes]) -> list[str] | None:
    """Every record's ``dossier_key``, read in one loop in C; None when a record has none (then ask
    ``dossier_key`` one record at a time)."""
    try:
        return list(map(_dossier_id, map(_key_decoder.decode, records)))
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def decode_tick(line: bytes | str) -> ClockTick:
    """Decode a clock tick, or raise ``InvalidRecord``."""
    try:
        tick = _tick_decoder.decode(line)
        parse_timestamp(tick.at)
    except (msgspec.ValidationError, ValueError) as error:
        record = load_json(line)
        violations = validate_tick(record) if isinstance(record, dict) else []
        raise InvalidRecord(violations or [Violation("at", str(error))]) from None
    return tick


def load_json(line: bytes | str) -> Any:
    """Strict JSON: UTF-8 only, no NaN or Infinity. Raises ``InvalidRecord``."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
    except UnicodeDecodeError:
        raise InvalidRecord([Violation("", "not UTF-8")]) from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:
        raise InvalidRecord([Violation("", f"not JSON ({error})")]) from None
    except RecursionError:  # a record nested thousands deep must not crash its reader
        raise InvalidRecord([Violation("", "not a record: nested too deeply")]) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _explain(line: bytes | str, fast_path_error: str) -> list[Violation]:
    """Every violation of a record the fast path refused (the full validator is the authority)."""
    record = load_json(line)
    if not isinstance(record, dict):
        return [Violation("", "not a JSON object")]
    violations = validate(record)
    # The two readers are kept in agreement by tests; should they ever differ, refuse loudly anyway.
    return violations or [Violation("", fast_path_error)]


def schema_path(name: str) -> resources.abc.Traversable:
    """Path of a schema file shipped with the package, e.g. ``dossier-event-1.schema.json``."""
    return resources.files("dossier") / "schema" / name


def validate(record: dict[str, Any]) -> list[Violation]:
    """Every violation of a ``dossier-event/1`` record (an empty list when it is valid)."""
    from dossier.validation import violations_of  # jsonschema loads only when a record is refused

    return violations_of("dossier-event-1.schema.json", record)


def validate_tick(record: dict[str, Any]) -> list[Violation]:
    """Every violation of a ``clock-tick/1`` record."""
    from dossier.validation import violations_of

    return violations_of("clock-tick-1.schema.json", record)


def _datetime_reason(value: str) -> str:
    if _NAIVE_DATETIME.match(value):
        return f"datetime without offset: {value!r}"
    return f"not an RFC 3339 datetime: {value!r}"
