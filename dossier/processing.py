"""One source partition of ``dossier.events``, processed record by record (pure: no Kafka, no wall clock).

The faust agent feeds each record of a partition, in offset order, to that partition's processor, which
keeps the partition's watermark (the greatest event time seen, of clock ticks and of events not too far
ahead of it: ``MAX_EVENT_LEAD``), the timer
heap of its open dossiers, and a cache of their decoded state. Everything it decides comes from
``dossier.lifecycle`` and ``dossier.transitions``; what it produces (transition and alert records, changed
summaries, table writes) waits in buffers the shell drains after each batch. Decisions depend only on the
sequence of records, never on how they were batched, so a replay gives the same records in the same order.

Crash recovery (at-least-once): the table may hold the effects of records whose offsets were not yet
committed while their outputs were lost with the crashed worker. Every stored event and fired timer keeps
the source offset that caused it, so ``recover`` re-sends the outputs of every offset from the committed
one on; the records replayed from there are recognised (same event id at the same offset) and change
nothing. Downstream deduplicates by the deterministic ids, and keeps of a dossier's summaries the one with
the greatest version (the source offset of the last event it counts): a worker the group has dropped may
still send the summaries of what it was processing, after its successor sent newer ones.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

from dossier.calendar import WorkingCalendar
from dossier.codec import StoredDossier
from dossier.contract import ParsedEvent, decode_event
from dossier.lifecycle import DossierSummary, in_state_machine_order, summarize
from dossier.transitions import (
    Transition,
    dossier_alert,
    event_transitions,
    fire_threshold,
    new_event_transitions,
    split_due,
    timer_instants,
    timing_key,
    transition_record,
)

NO_WATERMARK = -math.inf
MAX_EVENT_LEAD = 31 * 86400.0
"""An event further than this past a partition's watermark does not move it (seconds); a clock tick does."""

#: What the KPIs read of a summary: all but the officer (who changes on every processing step).
kpi_view = attrgetter(*(f.name for f in fields(DossierSummary) if f.name != "officer"))


@dataclass(slots=True)
class LiveDossier:
    """A dossier's stored state with what is derived from it, kept while the dossier is in the cache."""

    stored: StoredDossier
    events: list[ParsedEvent]
    offsets: dict[str, int]  # event id -> source offset of the record that brought it
    summary: DossierSummary | None
    transitions: set[Transition]
    fired: set[Transition]
    timing: tuple[object, ...] | None = None  # the summary's timing_key when ``timers`` was computed
    timers: list[Transition] = field(default_factory=list)

    def timer_instants(self, calendar: WorkingCalendar) -> list[Transition]:
        """The summary's timer instants, recomputed only when what they depend on changed."""
        assert self.summary is not None
        key = timing_key(self.summary)
        if key != self.timing:
            self.timing, self.timers = key, timer_instants(self.summary, calendar)
        return self.timers

    @classmethod
    def from_stored(cls, stored: StoredDossier, calendar: WorkingCalendar) -> LiveDossier:
        events = [decode_event(raw) for _, raw in stored.events]
        summary = summarize(in_state_machine_order(events), calendar)
        return cls(
            stored=stored,
            events=events,
            offsets={e.record.event_id: offset for (offset, _), e in zip(stored.events, events, strict=True)},
            summary=summary,
            transitions=event_transitions(summary, events),
            fired={Transition(kind, at) for kind, at, _ in stored.fired},  # type: ignore[arg-type]
        )


@dataclass(slots=True)
class Outputs:
    """What a run of records produced, in order, until the shell drains it."""

    transitions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    alerts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # dossier id -> (its latest summary, the version: the source offset of the last event it counts)
    summaries: dict[str, tuple[DossierSummary, int]] = field(default_factory=dict)

    def add_summary(self, dossier_id: str, summary: DossierSummary, version: int) -> None:
        self.summaries[dossier_id] = (summary, version)

    def __bool__(self) -> bool:
        return bool(self.transitions or self.alerts or self.summaries)


@dataclass(slots=True)
class Counters:
    events: int = 0
    ticks: int = 0
    duplicates: int = 0
    replayed: int = 0


Loader = Callable[[str], StoredDossier | None]


class PartitionProcessor:
    """The dossiers, watermark and timers of one source partition."""

    def __init__(self, partition: int, calendar: WorkingCalendar, load: Loader, cache_size: int = 200_000) -> None:
        self.partition = partition
        self.watermark = NO_WATERMARK
        self.watermark_changed = False
        self.out = Outputs()
        self.counters = Counters()
        self._calendar = calendar
        self._load = load
        self._cache_size = cache_size
        self._cache: dict[str, LiveDossier] = {}
        self._dirty: dict[str, LiveDossier] = {}
        self._heap: list[tuple[float, str]] = []
        self._scheduled: dict[str, float] = {}

    # --------------------------------------------------------------------------------------- records

    def on_event(self, offset: int, raw: bytes, event: ParsedEvent) -> None:
        """A valid dossier event read at ``offset``: first the timers its time passes, then the event.

        One event dated far ahead (2099) must not fire every dossier's timers nor drag the KPIs' event time:
        beyond ``MAX_EVENT_LEAD`` it counts, but moves no watermark (a function of the log: replays agree).
        """
        if self.watermark == NO_WATERMARK or event.occurred_ts <= self.watermark + MAX_EVENT_LEAD:
            self._advance(event.occurred_ts, offset)
        record = event.record
        dossier_id = record.dossier_id
        d = self._dossier(dossier_id)
        if d is None:
            d = LiveDossier(StoredDossier(self.partition, [], []), [], {}, None, set(), set())
            self._cache[dossier_id] = d
        seen_at = d.offsets.get(record.event_id)
        if seen_at is not None:  # the first one received wins; the same offset again is a replay
            if seen_at == offset:
                self.counters.replayed += 1
            else:
                self.counters.duplicates += 1
            return
        self.counters.events += 1
        d.stored.events.append((offset, raw))
        d.events.append(event)
        d.offsets[record.event_id] = offset
        summary = summarize(in_state_machine_order(d.events), self._calendar)
        after = event_transitions(summary, d.events)
        if summary is not None:
            for t in new_event_transitions(d.transitions, after):
                self.out.transitions.append((dossier_id, transition_record(summary, t)))
            if d.summary is None or kpi_view(summary) != kpi_view(d.summary):
                self.out.add_summary(dossier_id, summary, offset)
        d.transitions = after
        d.summary = summary
        self._dirty[dossier_id] = d
        self._run_timers(dossier_id, d, offset)

    def on_tick(self, offset: int, at: float) -> None:
        """A clock tick: event time has reached ``at`` on this partition."""
        self.counters.ticks += 1
        self._advance(at, offset)

    # ---------------------------------------------------------------------------------------- timers

    def _advance(self, ts: float, cause: int) -> None:
        if ts <= self.watermark:
            return
        self.watermark = ts
        self.watermark_changed = True
        heap = self._heap
        while heap and heap[0][0] <= ts:
            threshold, dossier_id = heapq.heappop(heap)
            if self._scheduled.get(dossier_id) != threshold:
                continue  # rescheduled since: a stale entry
            del self._scheduled[dossier_id]
            d = self._dossier(dossier_id)
            if d is not None:
                self._run_timers(dossier_id, d, cause)

    def _run_timers(self, dossier_id: str, d: LiveDossier, cause: int) -> None:
        summary = d.summary
        if summary is None:
            return
        due, pending = split_due(d.timer_instants(self._calendar), self.watermark, d.fired)
        for t in due:
            d.fired.add(t)
            d.stored.fired.append((t.kind, t.at, cause))
            self._emit_timer(summary, t)
            self._dirty[dossier_id] = d
        self._schedule(dossier_id, pending)

    def _emit_timer(self, summary: DossierSummary, t: Transition) -> None:
        self.out.transitions.append((summary.dossier_id, transition_record(summary, t)))
        alert = dossier_alert(summary, t)
        if alert is not None:
            self.out.alerts.append((alert["alert_id"], alert))

    def _schedule(self, dossier_id: str, threshold: float | None) -> None:
        if threshold is None:
            self._scheduled.pop(dossier_id, None)
        elif self._scheduled.get(dossier_id) != threshold:
            self._scheduled[dossier_id] = threshold
            heapq.heappush(self._heap, (threshold, dossier_id))

    # ----------------------------------------------------------------------------------------- state

    def _dossier(self, dossier_id: str) -> LiveDossier | None:
        """A dossier from the cache (now its most recently used) or, decoded again, from the table."""
        d = self._cache.pop(dossier_id, None)
        if d is None:
            stored = self._load(dossier_id)
            if stored is None:
                return None
            d = LiveDossier.from_stored(stored, self._calendar)
        self._cache[dossier_id] = d
        return d

    def held(self) -> dict[str, int]:
        """What the partition holds in memory: decoded dossiers (the cache), and dossiers with a timer set."""
        return {"dossiers_decoded": len(self._cache), "dossiers_timed": len(self._scheduled)}

    def take_dirty(self) -> list[tuple[str, StoredDossier]]:
        """The dossiers changed since the last call (to write to the table), then trim the cache to its size,
        least recently used first (finished dossiers age out: few events come after the end)."""
        dirty = [(dossier_id, d.stored) for dossier_id, d in self._dirty.items()]
        self._dirty.clear()
        cache = self._cache
        while len(cache) > self._cache_size:
            del cache[next(iter(cache))]
        return dirty

    def take_outputs(self) -> Outputs:
        out, self.out = self.out, Outputs()
        return out

    def recover(self, entries: Iterable[tuple[str, StoredDossier]], watermark: float, committed: int | None) -> None:
        """Rebuild from the table after (re)assignment; re-send the outputs of offsets >= ``committed``.

        ``committed`` is the partition's committed offset (None when nothing was ever committed): records
        from there on are read again, but their effects may already be in the table.
        """
        self.watermark = watermark
        since = committed or 0
        for dossier_id, stored in entries:
            d = LiveDossier.from_stored(stored, self._calendar)
            if len(self._cache) < self._cache_size:
                self._cache[dossier_id] = d
            summary = d.summary
            if summary is None:
                continue
            if any(offset >= since for offset, _ in stored.events):
                older = [e for (offset, _), e in zip(stored.events, d.events, strict=True) if offset < since]
                before = event_transitions(summarize(in_state_machine_order(older), self._calendar), older)
                for t in new_event_transitions(before, d.transitions):
                    self.out.transitions.append((dossier_id, transition_record(summary, t)))
                self.out.add_summary(dossier_id, summary, max(offset for offset, _ in stored.events))
            for kind, at, cause in stored.fired:
                if cause >= since:
                    self._emit_timer(summary, Transition(kind, at))  # type: ignore[arg-type]
            unfired, _ = split_due(d.timer_instants(self._calendar), math.inf, d.fired)
            if unfired:
                self._schedule(dossier_id, min(fire_threshold(t) for t in unfired))
        self.watermark_changed = True
