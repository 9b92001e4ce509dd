"""The notifier's state machine over plain values: admission, digests, escalation, acknowledgement, resolution.

No I/O. The service feeds it alerts, acknowledgements, finished dossiers, delivery outcomes and the time
(``now`` on the notifier's clock, ``wall`` for batching and retries), and records every page it returns
(the ``notifications`` table) before it commits the Kafka offsets that caused them.

An alert stays in memory while something may still happen to it: a page held or queued or on its way, or
an escalation deadline ahead. Then it is *settled* (forgotten here; its rows stay in ClickHouse), so memory
holds the open alerts only. All pages of an open alert are kept, whatever their status, so that an official
is never paged twice for one alert, even when escalation reaches someone already paged.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from dossier.calendar import WorkingCalendar, default_calendar
from notify.messages import message_id
from notify.model import Alert, Contact, Page
from notify.policy import Policy, digest_groups, escalation_deadline, expiry, release_at, retry_delay
from notify.roster import Roster
from notify.routing import Route, escalation, route

NO_ROUTE = "no route and no fallback on the roster"


@dataclass(slots=True)
class Wake:
    """When the next scheduler turn may find a page ready: on the notifier's clock, on the wall clock."""

    now: float = math.inf
    wall: float = math.inf
    unsure: bool = False  # some page waits for its first record: look again next turn


@dataclass(frozen=True, slots=True)
class Message:
    """Pages of one recipient that go as one message (a digest when there are several)."""

    id: str
    contact: Contact
    pages: tuple[Page, ...]


class Pager:
    def __init__(self, roster: Roster, policy: Policy, calendar: WorkingCalendar | None = None) -> None:
        self.roster = roster
        self.policy = policy
        self.calendar = calendar or default_calendar()
        self.open: dict[str, dict[str, Page]] = {}  # alert_id -> recipient -> page
        self.deadlines: dict[str, float] = {}  # alert_id -> when its current level escalates
        self.counts: Counter[str] = Counter()
        self._wake = Wake()
        self._changed = True  # pages were added or changed since the last scheduler turn

    # ------------------------------------------------------------------------------------------- admission

    def admit(self, alert: Alert, owner: int, now: float) -> list[Page]:
        """The pages of a new alert (an alert already open here gives nothing: the store knows the others).

        An expired alert, or one that reaches no one, gives one page without a recipient, to be recorded
        (and, for the latter, sent to the DLQ by the service).
        """
        if alert.alert_id in self.open:
            return []
        reason = expiry(alert.at, now, self.policy)
        if reason:
            self.counts["expired"] += 1
            return [Page(alert, None, "expired", 0, owner, "expired", now, error=reason)]
        chosen = route(alert, self.roster)
        if chosen.unrouted:
            self.counts["unrouted"] += 1
        if not chosen.contacts:
            self.counts["unroutable"] += 1
            return [Page(alert, None, chosen.name, chosen.level, owner, "unroutable", now, error=NO_ROUTE)]
        self.counts["admitted"] += 1
        return self._new_pages(alert, chosen, owner, now)

    def _new_pages(self, alert: Alert, chosen: Route, owner: int, now: float) -> list[Page]:
        pages = self.open.setdefault(alert.alert_id, {})
        self._changed = True
        new = []
        for contact in chosen.contacts:
            if contact.recipient in pages:
                continue
            release = release_at(alert.kind, contact.role, now, self.calendar, self.policy)
            page = Page(alert, contact, chosen.name, chosen.level, owner, "held" if release > now else "queued",
                        release, recorded=False)
            pages[contact.recipient] = page
            new.append(page)
        return new

    def restore(self, pages: Iterable[Page]) -> None:
        """Pages of open alerts read back from the store (after a restart or a partition assignment)."""
        by_alert: dict[str, list[Page]] = {}
        for page in pages:
            by_alert.setdefault(page.alert.alert_id, []).append(page)
        self._changed = True
        for alert_id, group in by_alert.items():
            if alert_id in self.open:
                continue
            self.open[alert_id] = {p.recipient: p for p in group}
            level = max(p.level for p in group)
            sent = [p.sent_at for p in group if p.level == level and p.status == "sent" and p.sent_at is not None]
            if sent:
                self._arm(alert_id, min(sent))
            self._settle(alert_id)

    def drop(self, owners: set[int]) -> int:
        """Forget the open alerts of partitions this notifier no longer owns (none may be on its way)."""
        gone = [a for a, pages in self.open.items() if next(iter(pages.values())).owner in owners]
        for alert_id in gone:
            del self.open[alert_id]
            self.deadlines.pop(alert_id, None)
        return len(gone)

    # ---------------------------------------------------------------------------------------------- time

    def _ready(self, now: float, wall: float) -> tuple[list[Page], set[str], Wake]:
        """Pages that may go now (held ones released on the way), recipients with a message on its way, and
        when a page not ready now will be (its release, or the end of its retry wait)."""
        ready, busy = [], set()
        wake = Wake()
        for pages in self.open.values():
            for p in pages.values():
                if p.sending:
                    busy.add(p.recipient)
                elif not p.recorded:
                    wake.unsure = True  # it may go once recorded, which the pager does not see
                elif p.status == "held" and p.release_at > now:
                    wake.now = min(wake.now, p.release_at)
                elif p.status in ("held", "queued"):
                    p.status = "queued"
                    if p.retry_wall > wall:
                        wake.wall = min(wake.wall, p.retry_wall)
                        continue
                    if p.ready_wall is None:
                        p.ready_wall = wall
                    ready.append(p)
        return ready, busy, wake

    def _idle(self, now: float, wall: float) -> bool:
        """Nothing can have become ready since the last turn (no change, no release, no window or retry ended)."""
        return not self._changed and now < self._wake.now and wall < self._wake.wall

    def candidates(self, now: float, wall: float) -> set[tuple[str, str]]:
        """(province, dossier_id) of the dossier alerts about to be escalated, or sent after waiting (quiet hours,
        retries: older than ``recheck_after``): the service asks whether those dossiers have finished. A page
        sent as its alert arrives does not ask: the streams raised the alert because the dossier was open."""
        acting = [next(iter(self.open[a].values())).alert for a, t in self.deadlines.items() if t <= now]
        if not self._idle(now, wall):
            ready, busy, _ = self._ready(now, wall)
            acting += [p.alert for group in digest_groups(ready, busy, wall, self.policy) for p in group
                       if now - p.alert.at > self.policy.recheck_after]
        return {(a.province, a.dossier_id) for a in acting if a.dossier_id}

    def messages(self, now: float, wall: float) -> list[Message]:
        """The messages to send now (their pages are marked as on their way).

        Each turn would look at every open page; a turn after which nothing can have become ready (the
        thousands of pages of a morning wave waiting out their window) is skipped instead.
        """
        if self._idle(now, wall):
            return []
        ready, busy, wake = self._ready(now, wall)
        out = []
        for group in digest_groups(ready, busy, wall, self.policy):
            contact = group[0].contact
            assert contact is not None
            message = Message(message_id(contact.recipient, group), contact, tuple(group))
            for p in group:
                p.sending, p.message_id = True, message.id
            out.append(message)
        waiting = [p.ready_wall for p in ready if not p.sending and p.recipient not in busy
                   and p.ready_wall is not None]
        wake.wall = min([wake.wall, *(first + self.policy.digest_window for first in waiting)])
        self._wake, self._changed = wake, wake.unsure
        return out

    def escalate(self, now: float) -> list[Page]:
        """Pages of every alert whose escalation deadline has passed: the next level's, and the escalated ones."""
        changed: list[Page] = []
        for alert_id in [a for a, t in self.deadlines.items() if t <= now]:
            del self.deadlines[alert_id]
            pages = self.open[alert_id]
            level = max(p.level for p in pages.values())
            waiting = [p for p in pages.values() if p.level == level and p.status == "sent"]
            changed += self._climb(waiting, level, now, "escalated")
            self.counts["escalations"] += 1
            self._settle(alert_id)
        return changed

    def _climb(self, from_pages: list[Page], level: int, now: float, status: str) -> list[Page]:
        """Page the next level with anyone not yet paged for the alert; ``from_pages`` say whom."""
        alert = from_pages[0].alert
        owner = from_pages[0].owner
        new: list[Page] = []
        step = escalation(alert, level, self.roster)
        while step is not None and not new:
            new = self._new_pages(alert, step, owner, now)
            step = None if new else escalation(alert, step.level, self.roster)
        if new:
            self.deadlines.pop(alert.alert_id, None)  # armed again when the new level's first page is sent
        elif status == "escalated":
            return []  # no one above: the pages stay sent, and the alert settles
        for p in from_pages:
            p.status = status  # type: ignore[assignment]
            p.escalated_to = ",".join(n.recipient for n in new)
        return [*from_pages, *new]

    # ----------------------------------------------------------------------------------------- delivery

    def delivered(self, message: Message, now: float) -> list[Page]:
        self._changed = True  # the recipient may have more pages waiting
        for p in message.pages:
            p.sending, p.sent_at, p.message_id, p.error = False, now, message.id, ""
            p.attempts += 1
            if p.status == "queued":
                p.status = "sent"
        self.counts["messages"] += 1
        self.counts["pages_sent"] += len(message.pages)
        for alert_id in {p.alert.alert_id for p in message.pages}:
            self._arm(alert_id, now)
            self._settle(alert_id)
        return list(message.pages)

    def failed(self, message: Message, error: str, now: float, wall: float) -> tuple[list[Page], list[Page]]:
        """An attempt failed: retry later, or after the last attempt fail over to the next level.

        Returns the changed pages and the pages that failed for good (for the DLQ).
        """
        changed: list[Page] = []
        dead: list[Page] = []
        self._changed = True
        for p in message.pages:
            p.sending, p.error = False, error
            p.attempts += 1
            if p.status != "queued":  # acknowledged or resolved while on its way
                changed.append(p)
            elif p.attempts < self.policy.attempts:
                p.retry_wall = wall + retry_delay(p.attempts, self.policy)
                changed.append(p)
            else:
                dead.append(p)
                self.counts["failed"] += 1
                changed += self._climb([p], p.level, now, "failed")
        for alert_id in {p.alert.alert_id for p in message.pages}:
            self._settle(alert_id)
        return changed, dead

    # ------------------------------------------------------------------------ acknowledgement, resolution

    def ack(self, alert_id: str, by: str, now: float) -> list[Page]:
        """An official acknowledged the alert: every page not yet final stops (escalation included)."""
        changed = self._close(alert_id, "acked", now)
        for p in changed:
            p.acked_at, p.acked_by = now, by
        if changed:
            self.counts["acked"] += 1
        return changed

    def resolve(self, alert_id: str, now: float) -> list[Page]:
        """The alert no longer holds (the dossier finished, Grafana resolved it): nothing more is sent."""
        changed = self._close(alert_id, "resolved", now)
        if changed:
            self.counts["resolved"] += 1
        return changed

    def resolve_dossiers(self, finished: set[str], now: float) -> list[Page]:
        gone = [a for a, pages in self.open.items() if next(iter(pages.values())).alert.dossier_id in finished]
        return [p for alert_id in gone for p in self.resolve(alert_id, now)]

    def close_stored(self, pages: list[Page], status: str, by: str, now: float) -> list[Page]:
        """Acknowledge or resolve an alert already settled here: its stored pages not yet final get the mark."""
        changed = [p for p in pages if p.status in ("held", "queued", "sent")]
        for p in changed:
            p.status = status  # type: ignore[assignment]
            if status == "acked":
                p.acked_at, p.acked_by = now, by
        if changed:
            self.counts[status] += 1
        return changed

    def _close(self, alert_id: str, status: str, now: float) -> list[Page]:
        pages = self.open.get(alert_id)
        if pages is None:
            return []
        changed = [p for p in pages.values() if p.status in ("held", "queued", "sent")]
        for p in changed:
            p.status = status  # type: ignore[assignment]
        self.deadlines.pop(alert_id, None)
        self._settle(alert_id)
        return changed

    # ---------------------------------------------------------------------------------------- bookkeeping

    def _arm(self, alert_id: str, sent_at: float) -> None:
        """Set the alert's escalation deadline from the first send at its current level, if it can escalate."""
        pages = self.open.get(alert_id)
        if not pages or alert_id in self.deadlines:
            return
        any_page = next(iter(pages.values()))
        level = max(p.level for p in pages.values())
        if not any(p.level == level and p.status == "sent" for p in pages.values()):
            return  # acknowledged or resolved while on its way, or only a lower level was sent
        if escalation(any_page.alert, level, self.roster) is None:
            return
        deadline = escalation_deadline(any_page.alert.kind, sent_at, self.calendar, self.policy)
        if deadline is not None:
            self.deadlines[alert_id] = deadline

    def _settle(self, alert_id: str) -> None:
        """Forget an alert once nothing more can happen to it."""
        pages = self.open.get(alert_id)
        if pages is None:
            return
        if alert_id in self.deadlines or any(p.sending or p.status in ("held", "queued") for p in pages.values()):
            return
        del self.open[alert_id]

    def alerts_of_message(self, message_id: str) -> set[str]:
        """The open alerts a message of this notifier carries (its rows may not have landed yet)."""
        return {a for a, pages in self.open.items() if any(p.message_id == message_id for p in pages.values())}

    def open_pages(self) -> int:
        return sum(len(p) for p in self.open.values())
