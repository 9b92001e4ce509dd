"""Who is paged for an alert, and who next when no one acknowledges (pure).

* A dossier alert goes to its officer when the officer is on the roster, else to the unit's officers.
* A unit alert (no dossier) goes to the unit's head.
* A pipeline alert (Grafana, no unit) goes to whoever is on call.
* An alert that none of these reaches has *no route*: it is counted (``Route.unrouted``) and goes to the
  province office, failing that to on call; an alert that reaches no one at all is recorded as
  ``unroutable`` and sent to the DLQ. It is never dropped silently.

Escalation climbs officer (level 0) -> unit head (1) -> province office (2); a level with no one on the
roster is skipped. A page to the province office or to on call (3) does not escalate.
"""

from __future__ import annotations

from dataclasses import dataclass

from notify.model import PIPELINE, Alert, Contact
from notify.roster import Roster

OFFICER, UNIT_HEAD, PROVINCE_OFFICE, ON_CALL = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Route:
    contacts: tuple[Contact, ...]
    name: str  # officer | unit_officers | unit_head | on_call | fallback | escalation | none
    level: int
    unrouted: bool = False


def route(alert: Alert, roster: Roster) -> Route:
    if alert.dossier_id:
        officer = roster.officer(alert.officer) if alert.officer else None
        if officer is not None:
            return Route((officer,), "officer", OFFICER)
        officers = roster.of_role("officer", alert.unit)
        if officers:
            return Route(officers, "unit_officers", OFFICER)
    elif alert.unit:
        heads = roster.of_role("unit_head", alert.unit)
        if heads:
            return Route(heads, "unit_head", UNIT_HEAD)
    elif alert.kind == PIPELINE or not alert.province:
        on_call = roster.on_call(alert.province)
        if on_call:
            return Route(on_call, "on_call", ON_CALL)
    return fallback(alert, roster)


def fallback(alert: Alert, roster: Roster) -> Route:
    """Where an alert without a route goes: the province office, else on call, else no one."""
    offices = roster.of_role("province_office", alert.province)
    if offices:
        return Route(offices, "fallback", PROVINCE_OFFICE, unrouted=True)
    on_call = roster.on_call(alert.province)
    if on_call:
        return Route(on_call, "fallback", ON_CALL, unrouted=True)
    return Route((), "none", ON_CALL, unrouted=True)


def escalation(alert: Alert, level: int, roster: Roster) -> Route | None:
    """The next level's route after a page at ``level`` went unacknowledged (or undeliverable), or None."""
    if level < UNIT_HEAD and alert.unit:
        heads = roster.of_role("unit_head", alert.unit)
        if heads:
            return Route(heads, "escalation", UNIT_HEAD)
    if level < PROVINCE_OFFICE:
        offices = roster.of_role("province_office", alert.province)
        if offices:
            return Route(offices, "escalation", PROVINCE_OFFICE)
    return None
