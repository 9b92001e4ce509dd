"""What the notifier reads: ``dossier-alert/1`` records, and the records of its inbox topic (docs/topics.md).

The inbox (``dossier.notify-inbox``, key ``alert_id``) carries what reaches the notifier from outside Kafka:
acknowledgements (``motcua alerts ack``, the signed links) and Grafana's alerts (its webhook). Keyed like
``dossier.alerts`` and with as many partitions, an alert's acknowledgements reach the notifier that owns it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

import msgspec

from dossier.calendar import format_instant
from dossier.contract import InvalidRecord, Violation, parse_timestamp
from notify.model import PIPELINE, Alert
from wire import records

ACK_SCHEMA = "notify-ack/1"
GRAFANA_SCHEMA = "grafana-alert/1"
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class AckRecord(msgspec.Struct, frozen=True, tag_field="schema", tag=ACK_SCHEMA):
    alert_id: NonEmpty
    by: str = ""  # pseudonym of the official, or "cli"
    via: str = ""  # cli | link
    at: str = ""  # wall clock, for the record only: the owner stamps acked_at with its own clock


class GrafanaRecord(msgspec.Struct, frozen=True, tag_field="schema", tag=GRAFANA_SCHEMA):
    alert_id: NonEmpty
    status: Literal["firing", "resolved"]
    kind: NonEmpty
    at: str
    province: str = ""
    unit: str = ""
    summary: str = ""


InboxRecord = AckRecord | GrafanaRecord
_inbox_decoder = msgspec.json.Decoder(InboxRecord)
_encoder = msgspec.json.Encoder()


def encode(record: InboxRecord) -> bytes:
    return _encoder.encode(record)


def decode_inbox(value: bytes | None) -> InboxRecord:
    if value is None:
        raise InvalidRecord([Violation("", "empty record (no value)")])
    try:
        record = _inbox_decoder.decode(value)
    except msgspec.DecodeError as error:
        raise InvalidRecord([Violation("", str(error))]) from None
    if isinstance(record, GrafanaRecord):
        records.instant("at", record.at)
    return record


def unit_rate_summary(record: records.Alert) -> str:
    """A ``unit_overdue_rate`` alert in words (the streams' own ``message`` is in English)."""
    day = date.fromisoformat(record.period_start).strftime("%d/%m/%Y") if record.period_start else "hôm nay"
    rate = f"{record.rate:.0%}" if record.rate is not None else "?"
    threshold = f"{record.threshold:.0%}" if record.threshold is not None else "?"
    return f"tỷ lệ hồ sơ trễ hạn ngày {day} là {rate}, vượt ngưỡng {threshold}"


def from_dossier_alert(value: bytes | None) -> Alert:
    """A ``dossier-alert/1`` record as the notifier's alert, or ``InvalidRecord``."""
    r = records.decode_alert(value)
    return Alert(
        alert_id=r.alert_id,
        kind=r.kind,
        at=records.instant("at", r.at),
        province=r.province,
        unit=r.unit,
        dossier_id=r.dossier_id or "",
        officer=r.officer or "",
        procedure_code=r.procedure_code,
        due_at=records.optional_instant("due_at", r.due_at),
        summary="" if r.dossier_id else unit_rate_summary(r),
    )


def from_grafana(record: GrafanaRecord) -> Alert:
    return Alert(record.alert_id, record.kind, parse_timestamp(record.at), record.province, record.unit,
                 summary=record.summary)


# ------------------------------------------------------------------------------------ Grafana's webhook


class GrafanaAlert(msgspec.Struct, frozen=True):
    """One alert of Grafana's webhook payload (the fields used; the others are ignored)."""

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    startsAt: str  # Grafana's name
    annotations: dict[str, str] = {}
    fingerprint: str = ""


class GrafanaPayload(msgspec.Struct, frozen=True):
    alerts: list[GrafanaAlert]


_grafana_decoder = msgspec.json.Decoder(GrafanaPayload)


def grafana_records(body: bytes) -> list[GrafanaRecord]:
    """The inbox records of a Grafana webhook body, or ``InvalidRecord`` naming the field and the reason.

    An alert's id is its rule name (blanks as dashes), fingerprint (of its labels) and start: the same firing
    episode, sent again by Grafana every repeat interval, is the same alert, and its ``resolved`` closes it. The kind is
    the ``motcua_kind`` label (default ``pipeline``); ``unit`` and ``province`` labels route it.
    """
    try:
        payload = _grafana_decoder.decode(body)
    except msgspec.DecodeError as error:
        raise InvalidRecord([Violation("", str(error))]) from None
    out, problems = [], []
    for i, a in enumerate(payload.alerts):
        name = a.labels.get("alertname", "")
        if not name:
            problems.append(Violation(f"alerts[{i}].labels.alertname", "missing"))
            continue
        try:
            started = format_instant(parse_timestamp(a.startsAt))
        except ValueError as error:
            problems.append(Violation(f"alerts[{i}].startsAt", str(error)))
            continue
        summary = a.annotations.get("summary") or a.annotations.get("description") or name
        out.append(GrafanaRecord(
            alert_id=f"grafana:{_slug(name)}:{a.fingerprint or '-'}:{started}", status=a.status,
            kind=a.labels.get("motcua_kind", PIPELINE), at=started, province=a.labels.get("province", ""),
            unit=a.labels.get("unit", ""), summary=summary[:500]))
    if problems:
        raise InvalidRecord(problems)
    return out


def _slug(name: str) -> str:
    """A rule name fit for a ``ref:`` line and a command line (no blanks, no quotes)."""
    return re.sub(r"[^\w.-]+", "-", name).strip("-") or "rule"


def problems_json(error: InvalidRecord) -> dict[str, Any]:
    return {"errors": [{"field": v.field, "reason": v.reason} for v in error.violations]}
