"""Files to Kafka records: event files (JSON lines), and dossiers exported from a one-stop system.

Exports come as the portal's sync format, one DongBoHoSoMC record (or a whole sync request) per line,
or as CSV with the same column names; list columns (DanhSachLePhi, DanhSachHoSoBoSung, TaiLieuNop,
DanhSachGiayToKetQua) hold JSON arrays. Every line is pseudonymised and checked against the
contract; a bad line is reported with its number and reason and skipped, never silently.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from dossier.contract import InvalidRecord, Violation, decode_event
from producers.pseudonym import Pseudonymiser
from producers.sources import Source
from producers.sync import SNAPSHOT, SyncError, envelope_events, snapshot_events

FORMATS = ("events", "sync", "csv")
LIST_COLUMNS = ("DanhSachLePhi", "DanhSachHoSoBoSung", "TaiLieuNop", "DanhSachGiayToKetQua", "DinhDanhCHS")


def infer_format(name: str, head: bytes) -> str:
    """csv for a .csv file; else events when the first record is a contract event or tick, else sync."""
    if name.lower().endswith(".csv"):
        return "csv"
    first = next((line for line in head.splitlines() if line.strip()), b"")
    return "events" if b'"schema"' in first and (b"dossier-event/1" in first or b"clock-tick/1" in first) else "sync"


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int  # 1-based line of the file (CSV: the data row's line, header = 1)
    violations: list[Violation]

    def __str__(self) -> str:
        return f"line {self.line}: " + "; ".join(map(str, self.violations))


Item = tuple[bytes, bytes] | Rejected  # a record (key, value) or a rejected line


def _checked(line: int, event: dict[str, Any], raw: bytes | None = None) -> Item:
    """The record of a contract event (kept byte for byte when `raw` is given), or why not."""
    value = raw if raw is not None else orjson.dumps(event)
    try:
        parsed = decode_event(value)
    except InvalidRecord as error:
        return Rejected(line, error.violations)
    return parsed.record.dossier_id.encode(), value


def event_file_items(lines: Iterable[bytes], pseudonym: Pseudonymiser) -> Iterator[Item]:
    """Records of an event file; blank lines and clock ticks are skipped."""
    for n, line in enumerate(lines, 1):
        line = line.rstrip(b"\r\n")
        if n == 1:
            line = line.removeprefix(b"\xef\xbb\xbf")
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            yield Rejected(n, [Violation("", f"not JSON: {error}")])
            continue
        if isinstance(doc, dict) and doc.get("schema") == "clock-tick/1":
            continue
        if not isinstance(doc, dict):
            yield Rejected(n, [Violation("", "not a JSON object")])
            continue
        scrubbed = pseudonym.scrub(doc)
        yield _checked(n, scrubbed, line if scrubbed is doc else None)


def _sync_items(n: int, doc: Any, source: Source, pseudonym: Pseudonymiser) -> Iterator[Item]:
    try:
        if isinstance(doc, dict) and "service" in doc:
            events = envelope_events(doc, source, pseudonym)
        elif isinstance(doc, dict):
            events = snapshot_events(doc, source, pseudonym)
        else:
            raise SyncError([Violation("", f"not a {SNAPSHOT} record or sync request")])
    except SyncError as error:
        yield Rejected(n, error.violations)
        return
    for event in events:
        yield _checked(n, event)


def sync_file_items(lines: Iterable[bytes], source: Source, pseudonym: Pseudonymiser) -> Iterator[Item]:
    """Records of a sync-format JSON-lines export."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line.removeprefix(b"\xef\xbb\xbf"))
        except orjson.JSONDecodeError as error:
            yield Rejected(n, [Violation("", f"not JSON: {error}")])
            continue
        yield from _sync_items(n, doc, source, pseudonym)


def csv_file_items(text: str, source: Source, pseudonym: Pseudonymiser) -> Iterator[Item]:
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
            yield Rejected(n, problems)
        else:
            yield from _sync_items(n, record, source, pseudonym)
