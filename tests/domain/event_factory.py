"""Random but valid dossier histories for property tests, covering every event type and odd orderings."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

LOCAL = timezone(timedelta(hours=7))
PROVINCE_UNITS = {"01": ("U01A", "U01B"), "79": ("U79A", "U79B", "U79C")}
PROCEDURES = (("P1", "F1"), ("P2", "F1"), ("P3", ""), ("P4", None), ("P5", "F2"))


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def dossier_history(rng: random.Random, dossier_id: str, start: datetime) -> list[dict[str, Any]]:
    """Events of one dossier with distinct instants (so that arrival order never breaks a tie)."""
    province = rng.choice(sorted(PROVINCE_UNITS))
    unit = rng.choice(PROVINCE_UNITS[province])
    procedure, field = rng.choice(PROCEDURES)
    base = {
        "schema": "dossier-event/1",
        "dossier_id": dossier_id,
        "source": "test",
        "province": province,
        "unit": unit,
        "procedure_code": procedure,
    }
    if field is not None:
        base["procedure_field"] = field
    events: list[dict[str, Any]] = []
    clock = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 40))
    seq = 0

    def emit(kind: str, **fields: Any) -> None:
        nonlocal clock, seq
        clock += timedelta(minutes=rng.randrange(1, 60 * 24 * 6), seconds=seq)
        seq += 1
        events.append({**base, "event_id": f"e{seq}", "type": kind, "occurred_at": _iso(clock), **fields})

    channel = rng.choice((1, 2, 2, 3))
    level = rng.choice(("full", "partial", "none"))
    if rng.random() < 0.3:
        emit("submitted", online_level=level, channel=channel, fee=rng.choice((None, 0, 5000)))
    if rng.random() < 0.05:
        emit("rejected")  # refused at intake: never counted when nothing else follows
        if rng.random() < 0.5:
            return events
    deadline = {
        "value": rng.choice((0.5, 1, 3, 5, 10)),
        "unit": rng.choice(("working_days", "working_days", "working_hours", "calendar_days")),
    }
    if deadline["unit"] == "calendar_days":
        deadline["value"] = int(deadline["value"]) or 1
    accepted: dict[str, Any] = {
        "online_level": level,
        "channel": channel,
        "digitized": rng.random() < 0.7,
        "fee": rng.choice((None, 0, 0, 20000)),
    }
    if rng.random() < 0.5:
        accepted["deadline"] = deadline
    else:
        accepted["due_at"] = _iso(clock + timedelta(days=rng.randrange(1, 15), hours=rng.randrange(0, 10)))
    emit("accepted", **accepted)
    if rng.random() < 0.05:
        emit("accepted", online_level="none", channel=1, deadline={"value": 1, "unit": "working_days"}, fee=7)
    for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
        emit("supplement_requested")
        if rng.random() < 0.8:
            emit("supplement_received")
    if rng.random() < 0.3:
        emit("processing", officer=f"o{rng.randrange(5)}")
    if rng.random() < 0.2:
        emit("apology_issued", due_at=_iso(clock + timedelta(days=3)))
    if rng.random() < 0.3:
        emit("payment_completed", paid_online=rng.random() < 0.6)
    end = rng.choice(("resolved", "resolved", "resolved", "returned", "stopped", "withdrawn", "rejected", None))
    if end == "resolved":
        emit("resolved", electronic_result=rng.random() < 0.5)
        if rng.random() < 0.6:
            emit("returned", return_channel=rng.choice((1, 2, 3)))
    elif end == "returned":
        emit("returned", return_channel=rng.choice((1, 2, 3)))
    elif end is not None:
        emit(end)
    if rng.random() < 0.3:
        emit("rated", rating=rng.choice(("satisfied", "neutral", "dissatisfied")))
    return events


def event_stream(seed: int, dossiers: int, start: datetime | None = None) -> list[dict[str, Any]]:
    """Events of many dossiers, in event-time order across dossiers (as a source would send them)."""
    rng = random.Random(seed)
    start = start or datetime(2025, 6, 1, 8, tzinfo=LOCAL)
    events = [e for i in range(dossiers) for e in dossier_history(rng, f"D{seed}-{i}", start)]
    events.sort(key=lambda e: e["occurred_at"])
    return events
