"""Reading event files (JSON lines) for the audit commands: every line valid, reported or skipped, never lost."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dossier.contract import (
    TICK_SCHEMA,
    InvalidRecord,
    ParsedEvent,
    Violation,
    decode_event,
    decode_tick,
    load_json,
)

InvalidLineHandler = Callable[[int, list[Violation]], None]


@dataclass(slots=True)
class ReadStats:
    """What a read saw, line by line; ``lines`` is the sum of the other counters."""

    lines: int = 0
    events: int = 0
    duplicates: int = 0
    invalid: int = 0
    ticks: int = 0
    blank: int = 0

    def summary(self) -> str:
        return (
            f"{self.lines} lines: {self.events} events, {self.duplicates} duplicates ignored, "
            f"{self.invalid} invalid, {self.ticks} clock ticks, {self.blank} blank"
        )


@dataclass(slots=True)
class EventLog:
    """Valid events grouped by dossier, deduplicated by ``event_id`` (the first received wins).

    Each dossier's dict keeps its events in arrival order, which breaks ties of ``occurred_at``.
    """

    by_dossier: dict[str, dict[str, ParsedEvent]] = field(default_factory=dict)
    stats: ReadStats = field(default_factory=ReadStats)


def iter_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line) of a JSON-lines buffer; a leading BOM and CR LF line ends are fine."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    for number, line in enumerate(lines, 1):
        yield number, line[:-1] if line.endswith(b"\r") else line


def read_event_file(path: Path, on_invalid: InvalidLineHandler) -> EventLog:
    """Read a JSON-lines event file. Raises ``OSError`` when the file cannot be read."""
    return read_event_lines(path.read_bytes(), on_invalid)


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of acyclic objects are built.

    Its generational passes would otherwise walk the whole growing event log again and again, which costs
    more than decoding it. Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_event_lines(data: bytes, on_invalid: InvalidLineHandler) -> EventLog:
    log = EventLog()
    stats = log.stats
    by_dossier = log.by_dossier
    number = 0
    for number, line in iter_lines(data):
        try:
            event = decode_event(line)
        except InvalidRecord as invalid:
            _skip_or_report(number, line, invalid.violations, stats, on_invalid)
            continue
        record = event.record
        events = by_dossier.get(record.dossier_id)
        if events is None:
            by_dossier[record.dossier_id] = {record.event_id: event}
        elif record.event_id in events:
            stats.duplicates += 1
        else:
            events[record.event_id] = event
    stats.lines = number
    stats.events = stats.lines - stats.duplicates - stats.invalid - stats.ticks - stats.blank
    return log


def _skip_or_report(
    number: int, line: bytes, violations: list[Violation], stats: ReadStats, on_invalid: InvalidLineHandler
) -> None:
    """Count a line that is not a valid event: blank, a clock tick, or invalid (reported)."""
    if not line.strip():
        stats.blank += 1
        return
    if is_clock_tick(line):
        try:
            decode_tick(line)
            stats.ticks += 1
            return
        except InvalidRecord as bad_tick:
            violations = bad_tick.violations
    stats.invalid += 1
    on_invalid(number, violations)


def is_clock_tick(line: bytes) -> bool:
    """Whether a record that is not a valid event claims to be a clock tick."""
    try:
        record = load_json(line)
    except InvalidRecord:
        return False
    return isinstance(record, dict) and record.get("schema") == TICK_SCHEMA
