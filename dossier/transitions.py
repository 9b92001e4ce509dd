"""Transitions and alerts of one dossier: which changes in its standing happen, and when (pure, no I/O).

A dossier's transitions are of two sorts:

* *event transitions* (accepted, paused, resumed, finished, apology issued) are facts of its events: the set
  of them is a function of the dossier's deduplicated events, so the new ones after an event are the set
  difference between the dossier's transitions after and before it;
* *timer transitions* (due soon, overdue) happen at an instant computed from the summary (the due instant,
  moved by supplementation pauses); they fire when the partition's watermark (event time) reaches that
  instant. A dossier waiting for the applicant has its effective time frozen, so it has no timer until the
  applicant answers (except that a second request makes it overdue at once, DOMAIN.md section 3).

The timer instants agree with ``dossier.sla.open_status`` by construction: a dossier is due soon at every
instant of [due_soon_at, overdue_at] and overdue after ``overdue_at``, as long as it is open. Every id is
deterministic (``dossier_id:kind:at``), so a replay of the same events gives the same records.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dossier.calendar import WorkingCalendar, format_instant
from dossier.contract import ParsedEvent
from dossier.lifecycle import DossierSummary
from dossier.sla import DUE_SOON_WORKING_SECONDS, Pause, open_status

TRANSITION_SCHEMA = "dossier-transition/1"
ALERT_SCHEMA = "dossier-alert/1"

Kind = Literal["accepted", "paused", "resumed", "finished", "due_soon", "overdue", "apology_issued"]
TimerKind = Literal["due_soon", "overdue"]
TIMER_KINDS: tuple[TimerKind, ...] = ("due_soon", "overdue")

#: Order of kinds at the same instant: the order in which they happen to a dossier.
_KIND_ORDER: dict[str, int] = {
    "accepted": 0,
    "paused": 1,
    "resumed": 2,
    "apology_issued": 3,
    "due_soon": 4,
    "overdue": 5,
    "finished": 6,
}


@dataclass(frozen=True, slots=True)
class Transition:
    """One change in a dossier's standing at the event-time instant ``at`` (epoch seconds)."""

    kind: Kind
    at: float

    @property
    def sort_key(self) -> tuple[float, int]:
        return (self.at, _KIND_ORDER[self.kind])


def transition_id(dossier_id: str, kind: str, at: float) -> str:
    return f"{dossier_id}:{kind}:{format_instant(at)}"


def alert_id(kind: str, subject: str, at_text: str) -> str:
    return f"{kind}:{subject}:{at_text}"


# ------------------------------------------------------------------------------------- event transitions


def event_transitions(summary: DossierSummary | None, events: Iterable[ParsedEvent]) -> set[Transition]:
    """Every event transition of a dossier, from its summary and its events (any order)."""
    if summary is None:
        return set()
    found = {Transition("accepted", summary.accepted_ts)}
    for requested, received in summary.pauses:
        found.add(Transition("paused", requested))
        if received is not None:
            found.add(Transition("resumed", received))
    if summary.end_ts is not None:
        found.add(Transition("finished", summary.end_ts))
    found.update(Transition("apology_issued", e.occurred_ts) for e in events if e.record.type == "apology_issued")
    return found


def new_event_transitions(before: set[Transition], after: set[Transition]) -> list[Transition]:
    """The transitions an event caused, in the order they happened."""
    return sorted(after - before, key=_sort_key)


def _sort_key(t: Transition) -> tuple[float, int]:
    return t.sort_key


# -------------------------------------------------------------------------------------- timer transitions


def _reach(target: float, start: float, pauses: Sequence[Pause], strict: bool) -> float | None:
    """The first instant from ``start`` at which the effective time reaches ``target`` (None: never).

    The effective time (``dossier.sla.effective_time``) grows with the clock between pauses and stands
    still during one. With ``strict`` the answer is the last instant at which it is still ``<= target``
    (it is ``> target`` right after), the boundary of "overdue" (``t_eff > due_at``).
    """
    completed = 0.0
    segment_start = start
    for requested, received in pauses:
        at = target + completed  # where effective time == target, were the clock running in this segment
        if at < requested or (not strict and at == requested):
            return max(at, segment_start)
        if received is None:
            return None  # waiting for the applicant: frozen until an answer arrives
        completed += received - requested
        segment_start = received
    return max(target + completed, segment_start)


def overdue_at(s: DossierSummary) -> float | None:
    """The instant after which the open dossier is overdue (None: not while it waits for the applicant).

    A due instant before the acceptance (bad source data) makes the dossier overdue from its acceptance.
    """
    reach = _reach(s.due_ts, s.accepted_ts, s.pauses, strict=True)
    if len(s.request_times) > 1:  # a second supplementation request makes it overdue at once
        second = max(s.request_times[1], s.accepted_ts)
        return second if reach is None else min(reach, second)
    return reach


def due_soon_at(s: DossierSummary, calendar: WorkingCalendar) -> float | None:
    """The first instant at which the open dossier is due soon, or None when it never is before overdue."""
    threshold = calendar.working_seconds(s.due_ts) - DUE_SOON_WORKING_SECONDS
    if threshold <= calendar.working_seconds(s.accepted_ts):
        reach: float | None = s.accepted_ts
    else:
        reach = _reach(calendar.instant_at(threshold), s.accepted_ts, s.pauses, strict=False)
    if reach is None:
        return None
    if open_status(reach, s.due_ts, s.pauses, s.request_times, calendar) != "due_soon":
        return None  # went straight to overdue (a second request, or a due instant before the acceptance)
    return reach


def timer_instants(s: DossierSummary, calendar: WorkingCalendar) -> list[Transition]:
    """The timer transitions of the dossier, fired or not, while it is open: due soon, then overdue."""
    timers = []
    soon = due_soon_at(s, calendar)
    if soon is not None and (s.end_ts is None or s.end_ts >= soon):
        timers.append(Transition("due_soon", soon))
    overdue = overdue_at(s)
    if overdue is not None and (s.end_ts is None or s.end_ts > overdue):
        timers.append(Transition("overdue", overdue))
    return timers


def fire_threshold(t: Transition) -> float:
    """The watermark from which a timer fires: its instant for due soon, just after it for overdue."""
    return math.nextafter(t.at, math.inf) if t.kind == "overdue" else t.at


def due_timers(
    s: DossierSummary, watermark: float, fired: Collection[Transition], calendar: WorkingCalendar
) -> tuple[list[Transition], float | None]:
    """The timers the watermark has reached and that have not fired yet, and the next pending threshold."""
    return split_due(timer_instants(s, calendar), watermark, fired)


def timing_key(s: DossierSummary) -> tuple[object, ...]:
    """What the timer instants depend on: equal keys, equal ``timer_instants`` (for caching them)."""
    return (s.accepted_ts, s.due_ts, s.end_ts, s.pauses, s.request_times)


def split_due(
    timers: Iterable[Transition], watermark: float, fired: Collection[Transition]
) -> tuple[list[Transition], float | None]:
    """Of a dossier's ``timer_instants``: those due at ``watermark`` and not fired, and the next threshold."""
    due: list[Transition] = []
    pending: float | None = None
    for timer in timers:
        if timer in fired:
            continue
        threshold = fire_threshold(timer)
        if threshold <= watermark:
            due.append(timer)
        elif pending is None or threshold < pending:
            pending = threshold
    return due, pending


def status_at(s: DossierSummary, at: float, calendar: WorkingCalendar) -> str:
    """How the dossier stands at ``at`` (the oracle the timer instants agree with, used by tests)."""
    if s.end_ts is not None and s.end_ts < at:
        return "finished"
    return open_status(at, s.due_ts, s.pauses, s.request_times, calendar)


# ----------------------------------------------------------------------------------------------- records


def transition_record(s: DossierSummary, t: Transition) -> dict[str, Any]:
    """A ``dossier-transition/1`` record (docs/topics.md)."""
    record: dict[str, Any] = {
        "schema": TRANSITION_SCHEMA,
        "transition_id": transition_id(s.dossier_id, t.kind, t.at),
        "dossier_id": s.dossier_id,
        "kind": t.kind,
        "at": format_instant(t.at),
        "province": s.province,
        "unit": s.unit,
        "procedure_code": s.procedure_code,
        "procedure_field": s.procedure_field,
        "officer": s.officer,
        "due_at": format_instant(s.due_ts),
    }
    if t.kind == "finished":
        record["outcome"] = s.outcome
        record["end_type"] = s.end_type
    return record


def dossier_alert(s: DossierSummary, t: Transition) -> dict[str, Any] | None:
    """The ``dossier-alert/1`` a timer transition raises (None for other transitions)."""
    if t.kind not in TIMER_KINDS:
        return None
    at, due = format_instant(t.at), format_instant(s.due_ts)
    if t.kind == "due_soon":
        message = (
            f"Dossier {s.dossier_id} ({s.procedure_code}) is due at {due}: today is the last working day "
            f"to issue the apology letter (unit {s.unit})."
        )
    else:
        message = f"Dossier {s.dossier_id} ({s.procedure_code}) is overdue since {due} (unit {s.unit})."
    return {
        "schema": ALERT_SCHEMA,
        "alert_id": alert_id(t.kind, s.dossier_id, at),
        "kind": t.kind,
        "at": at,
        "province": s.province,
        "unit": s.unit,
        "dossier_id": s.dossier_id,
        "procedure_code": s.procedure_code,
        "officer": s.officer,
        "due_at": due,
        "message": message,
    }


def unit_rate_alert(province: str, row: dict[str, Any], threshold: float, min_to_process: int) -> dict[str, Any] | None:
    """The alert of a unit's current-day KPI row whose overdue rate reached the threshold, else None.

    Only provisional day rows count (the current day); one alert per unit and day (a stable id).
    """
    if row["scope"] != "unit" or row["period"] != "day" or not row.get("provisional"):
        return None
    rate = row["overdue_rate"]
    if rate is None or rate < threshold or row["to_process"] < min_to_process:
        return None
    unit, day = row["scope_id"], row["period_start"]
    return {
        "schema": ALERT_SCHEMA,
        "alert_id": alert_id("unit_overdue_rate", unit, day),
        "kind": "unit_overdue_rate",
        "at": row["watermark"],
        "province": province,
        "unit": unit,
        "period_start": day,
        "rate": rate,
        "threshold": threshold,
        "message": (
            f"Unit {unit}: {row['finished_late'] + row['open_overdue']} of {row['to_process']} dossiers of "
            f"{day} overdue ({rate:.0%}), above the {threshold:.0%} threshold."
        ),
    }
