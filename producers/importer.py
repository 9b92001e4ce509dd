"""Files to Kafka records: event files (JSON lines), and dossiers exported from a one-stop system.

Exports come as the portal's sync format, one DongBoHoSoMC record (or a whole sync request) per line,
or as CSV with the same column names; list columns (DanhSachLePhi, DanhSachHoSoBoSung, TaiLieuNop,
DanhSachGiayToKetQua) hold JSON arrays. Every record goes through the edge policy (producers.edge:
allowlist, pseudonyms, bounded event time, the source's province when a source is given); a bad
line is reported with its number and reason and skipped, never silently, whatever its bytes, and
carries the scrubbed copy that goes to dossier.dlq.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from dossier.contract import EVENT_SCHEMA, TICK_SCHEMA, ClockTick, InvalidRecord, InvalidTick, Violation, decode_record
from producers.edge import UNREADABLE, Bounds, Grant, Refused, admit, redacted_reason
from producers.pseudonym import Pseudonymiser
from producers.sources import Source
from producers.sync import SyncError, envelope, record_events, refusal, snapshot_events

FORMATS = ("events", "sync", "csv")
LIST_COLUMNS = ("DanhSachLePhi", "DanhSachHoSoBoSung", "TaiLieuNop", "DanhSachGiayToKetQua", "DinhDanhCHS")
BOM = b"\xef\xbb\xbf"


GUESS_LINES = 1000


def infer_format(name: str, lines: Iterable[bytes]) -> str:
    """csv for a .csv file; else from the first line (of the first GUESS_LINES) that is a JSON object saying what
    it is, garbage skipped: a contract event or tick makes an events file, a sync request or snapshot a sync
    export; sync by default."""
    if name.lower().endswith(".csv"):
        return "csv"
    for line in itertools.islice(lines, GUESS_LINES):
        try:
            doc = orjson.loads(line.removeprefix(BOM))
        except orjson.JSONDecodeError:
            continue
        if isinstance(doc, dict) and doc.get("schema") in (EVENT_SCHEMA, TICK_SCHEMA):
            return "events"
        if isinstance(doc, dict) and ("service" in doc or "MaHoSo" in doc):
            return "sync"
    return "sync"


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int  # 1-based line of the file (CSV: the data row's line, header = 1)
    violations: list[Violation]
    refused: Refused  # what goes to dossier.dlq

    def __str__(self) -> str:
        """The line and its reasons, values blanked (this goes to a terminal or a log)."""
        return f"line {self.line}: {self.refused.reason}"


Item = tuple[bytes, bytes] | Rejected  # a record (key, value) or a rejected line


@dataclass(frozen=True, slots=True)
class Edge:
    """The edge policy's inputs for one import: the key, the time bounds, the clock, the source's grant."""

    pseudonym: Pseudonymiser
    bounds: Bounds
    now: float
    grant: Grant | None = None

    def item(self, line: int, doc: object) -> Item:
        result = admit(doc, self.grant, self.pseudonym, self.now, self.bounds)
        return result.record if result.record is not None else Rejected(line, result.violations, result.refusal())


def _unreadable(line: int, reason: str) -> Rejected:
    violations = [Violation("", reason)]
    return Rejected(line, violations, Refused(UNREADABLE, "parse", redacted_reason(violations)))


def _lines(lines: Iterable[bytes]) -> Iterator[tuple[int, bytes, Any] | Rejected]:
    """(line number, line, JSON value) of every non-blank line, or its rejection when it is not JSON."""
    for n, line in enumerate(lines, 1):
        line = line.rstrip(b"\r\n").removeprefix(BOM) if n == 1 else line.rstrip(b"\r\n")
        if not line.strip():
            continue
        try:
            yield n, line, orjson.loads(line)
        except orjson.JSONDecodeError as error:
            yield _unreadable(n, f"not JSON: {error}")


def event_file_items(lines: Iterable[bytes], edge: Edge) -> Iterator[Item]:
    """Records of an event file; blank lines and valid clock ticks are skipped, an invalid tick is rejected."""
    for parsed in _lines(lines):
        if isinstance(parsed, Rejected):
            yield parsed
            continue
        n, line, doc = parsed
        try:
            if isinstance(decode_record(line), ClockTick):
                continue
        except InvalidTick as bad_tick:
            yield Rejected(n, bad_tick.violations, refusal(doc, bad_tick.violations, edge.pseudonym))
            continue
        except InvalidRecord:
            pass  # not a valid event: the edge policy names every problem
        yield edge.item(n, doc)


def _sync_items(n: int, doc: Any, source: Source, edge: Edge) -> Iterator[Item]:
    if isinstance(doc, dict) and "service" in doc:
        try:
            mapper, records = envelope(doc)
        except SyncError as error:
            yield Rejected(n, error.violations, refusal(doc, error.violations, edge.pseudonym))
            return
        indexed: list[tuple[int | None, Any]] = list(enumerate(records))
    else:
        mapper, indexed = snapshot_events, [(None, doc)]
    for index, record in indexed:
        try:
            events = record_events(mapper, index, record, source, edge.pseudonym)
        except SyncError as error:
            yield Rejected(n, error.violations, refusal(record, error.violations, edge.pseudonym))
            continue
        for event in events:
            yield edge.item(n, event)


def sync_file_items(lines: Iterable[bytes], source: Source, edge: Edge) -> Iterator[Item]:
    """Records of a sync-format JSON-lines export."""
    for parsed in _lines(lines):
        if isinstance(parsed, Rejected):
            yield parsed
        else:
            n, _line, doc = parsed
            yield from _sync_items(n, doc, source, edge)


def csv_file_items(text: str, source: Source, edge: Edge) -> Iterator[Item]:
    """Records of a CSV export whose columns are DongBoHoSoMC field names."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    for row in reader:
        n = reader.line_num
        record: dict[str, Any] = {}
        problems = []
        for name, value in row.items():
            if name is None or value is None:
                problems.append(Violation("", "more cells than columns"))
            elif name in LIST_COLUMNS and value.strip():
                try:
                    record[name] = orjson.loads(value)
                except orjson.JSONDecodeError as error:
                    problems.append(Violation(name, f"must be a JSON array: {error}"))
            else:
                record[name] = value
        if problems:
            yield Rejected(n, problems, refusal(record, problems, edge.pseudonym))
        else:
            yield from _sync_items(n, record, source, edge)
