"""When pages go (pure): working-hour holds, escalation deadlines in working time, retries, expiry, digests.

Two clocks meet here. The decisions about people (is the recipient at work, has the escalation delay passed,
is the alert too old) follow the notifier's clock: the wall clock, or with ``--clock event`` the event-time
watermark, so that the demo and the tests run in simulated time. How messages are batched and retried
(digest windows, backoff) is about the channels, and follows the wall clock (``wall``) in both modes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dossier.calendar import HOUR, WorkingCalendar
from notify.model import PIPELINE, Page

#: Working seconds without an acknowledgement before a page escalates, per kind (a kind absent: never).
DEFAULT_ESCALATION: dict[str, float] = {
    "due_soon": 2 * HOUR,
    "overdue": 2 * HOUR,
    "unit_overdue_rate": 4 * HOUR,
    "unit_on_time_rate": 4 * HOUR,
}


@dataclass(frozen=True)
class Policy:
    digest_window: float = 60.0  # wall seconds a recipient's first ready page waits for others
    max_items: int = 100  # alerts per message at most (a longer digest is split)
    wake_kinds: frozenset[str] = frozenset({PIPELINE})  # kinds paged outside working hours
    escalate_after: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_ESCALATION))
    max_age: float = 24 * HOUR  # older alerts are recorded as expired, not sent
    since: float | None = None  # alerts before this instant are expired too (a backfill pages no one)
    attempts: int = 8  # delivery attempts of a page before it fails over to the next level and the DLQ
    retry_first: float = 2.0  # wall seconds before the second attempt; doubling up to retry_max
    retry_max: float = 300.0
    recheck_after: float = 300.0  # a page whose alert is older than this asks first whether the dossier finished


def release_at(kind: str, role: str, now: float, calendar: WorkingCalendar, policy: Policy) -> float:
    """When a page may go: now, or at the next working instant when the recipient is not at work now.

    On-call officials are always at work, and the ``wake_kinds`` wake anyone; everything else waits
    (outside working hours, at lunch, on weekends and holidays of the SLA calendar).
    """
    if role == "on_call" or kind in policy.wake_kinds:
        return now
    return calendar.next_working_instant(now)


def escalation_deadline(kind: str, sent_at: float, calendar: WorkingCalendar, policy: Policy) -> float | None:
    """The instant at which a page sent at ``sent_at`` escalates unless acknowledged (working time), or None."""
    delay = policy.escalate_after.get(kind)
    if delay is None:
        return None
    return calendar.instant_at(calendar.working_seconds(sent_at) + delay)


def retry_delay(attempts: int, policy: Policy) -> float:
    """Wall seconds before the next attempt after ``attempts`` failed ones (exponential backoff, capped)."""
    return float(min(policy.retry_max, policy.retry_first * 2 ** max(0, attempts - 1)))


def expiry(alert_at: float, now: float, policy: Policy) -> str:
    """Why an alert is too old to page anyone ('' when it is not)."""
    if policy.since is not None and alert_at < policy.since:
        return "before --since"
    if now - alert_at > policy.max_age:
        return f"older than --max-age ({policy.max_age:g} s) at admission"
    return ""


def digest_groups(pages: Iterable[Page], busy: set[str], wall: float, policy: Policy) -> list[list[Page]]:
    """The messages to send now: per recipient, every ready page, once the first of them has waited the window.

    ``pages`` are ready (queued, released, not waiting for a retry); a recipient in ``busy`` has a message on
    its way and gets the next one after it. Dossier pages are listed by kind and due instant; a digest longer
    than ``max_items`` is split into several messages.
    """
    by_recipient: dict[str, list[Page]] = defaultdict(list)
    for page in pages:
        if page.recipient not in busy:
            by_recipient[page.recipient].append(page)
    out = []
    for group in by_recipient.values():
        first = min(p.ready_wall if p.ready_wall is not None else wall for p in group)
        if first + policy.digest_window > wall:
            continue
        group.sort(key=lambda p: (-p.level, p.alert.kind, p.alert.due_at or 0.0, p.alert.alert_id))
        out += [group[i:i + policy.max_items] for i in range(0, len(group), policy.max_items)]
    return out


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``30m``, ``2h``, ``1.5d`` -> seconds; ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration (e.g. 90s, 30m, 2h, 1d): {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]


def parse_escalation(text: str) -> dict[str, float]:
    """``due_soon=2h,overdue=1h`` -> working seconds per kind, over the defaults; ``kind=never`` drops one."""
    delays = dict(DEFAULT_ESCALATION)
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, sep, value = item.partition("=")
        if not sep or not kind.strip():
            raise ValueError(f"expected kind=duration, not {item!r}")
        if value.strip() == "never":
            delays.pop(kind.strip(), None)
        else:
            delays[kind.strip()] = parse_duration(value)
    return delays
