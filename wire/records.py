"""The records the streams write (docs/topics.md): transitions, KPI rows and alerts, their schema ids and decoders.

The domain (``dossier.transitions``) makes the transition and alert records and names their schemas and
kinds; the KPI row's schema id is named here, where the streams that add it and the sink that reads it meet.

Like the event contract, each is a msgspec ``Struct`` that validates types, enumerations and ranges in
one pass; the few rules a Struct cannot say (datetimes, dates that start their period) are checked after.
A record that fails raises ``InvalidRecord`` naming what is wrong, and goes to the DLQ.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import msgspec

from dossier.contract import InvalidRecord, Violation, parse_timestamp
from dossier.kpi import COUNT_FIELDS, RATE_FIELDS, Scope
from dossier.periods import PeriodKind, period_start
from dossier.sla import Outcome
from dossier.transitions import ALERT_SCHEMA, TRANSITION_SCHEMA, Kind, TimerKind

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]  # the kpis table stores UInt32

KPI_SCHEMA = "kpi-row/1"

AlertKind = Literal[TimerKind, "unit_overdue_rate"]


class Transition(msgspec.Struct, frozen=True, gc=False):
    schema: Literal[TRANSITION_SCHEMA]
    transition_id: NonEmpty
    dossier_id: NonEmpty
    kind: Kind
    at: str
    province: NonEmpty
    unit: NonEmpty
    procedure_code: str = ""
    procedure_field: str | None = None
    officer: str | None = None
    due_at: str | None = None
    outcome: Outcome | None = None
    end_type: str | None = None


class Alert(msgspec.Struct, frozen=True, gc=False):
    schema: Literal[ALERT_SCHEMA]
    alert_id: NonEmpty
    kind: AlertKind
    at: str
    province: NonEmpty
    unit: str = ""
    dossier_id: str | None = None
    procedure_code: str = ""
    officer: str | None = None
    due_at: str | None = None
    rate: float | None = None
    threshold: float | None = None
    period_start: str | None = None
    message: str = ""


KpiRecord: Any = msgspec.defstruct(
    "KpiRecord",
    [
        ("schema", Literal[KPI_SCHEMA]),
        ("scope", Scope),
        ("scope_id", NonEmpty),
        ("period", PeriodKind),
        ("period_start", str),
        *((name, Count) for name in COUNT_FIELDS),
        *((name, float | None, None) for name in RATE_FIELDS),
        ("provisional", bool),
        ("watermark", str | None, None),  # None: no event time seen yet by the streams
    ],
    kw_only=True,
    frozen=True,
    gc=False,
)

_transition_decoder = msgspec.json.Decoder(Transition)
_alert_decoder = msgspec.json.Decoder(Alert)
_kpi_decoder = msgspec.json.Decoder(KpiRecord)


def _decode(decoder: msgspec.json.Decoder[Any], value: bytes | None) -> Any:
    if value is None:
        raise InvalidRecord([Violation("", "empty record (no value)")])
    try:
        return decoder.decode(value)
    except msgspec.DecodeError as error:
        raise InvalidRecord([Violation("", str(error))]) from None


def instant(field: str, value: str) -> float:
    """Epoch seconds of an RFC 3339 datetime field, or ``InvalidRecord``."""
    try:
        return parse_timestamp(value)
    except ValueError as error:
        raise InvalidRecord([Violation(field, str(error))]) from None


def optional_instant(field: str, value: str | None) -> float | None:
    return None if value is None else instant(field, value)


def local_date(field: str, value: str) -> date:
    try:
        return date.fromisoformat(value) if len(value) == 10 else date.fromisoformat("not a date")
    except ValueError:
        raise InvalidRecord([Violation(field, f"not a date (YYYY-MM-DD): {value!r}")]) from None


def decode_transition(value: bytes | None) -> Transition:
    record: Transition = _decode(_transition_decoder, value)
    instant("at", record.at)
    optional_instant("due_at", record.due_at)
    return record


def decode_alert(value: bytes | None) -> Alert:
    record: Alert = _decode(_alert_decoder, value)
    instant("at", record.at)
    optional_instant("due_at", record.due_at)
    if record.period_start is not None:
        local_date("period_start", record.period_start)
    return record


def decode_kpi_row(value: bytes | None) -> Any:
    """A ``kpi-row/1`` record whose ``period_start`` is the first day of its period."""
    record = _decode(_kpi_decoder, value)
    start = local_date("period_start", record.period_start)
    kind: PeriodKind = record.period
    if period_start(kind, start) != start:
        raise InvalidRecord([Violation("period_start", f"{start} does not start a {kind}")])
    optional_instant("watermark", record.watermark)
    return record
