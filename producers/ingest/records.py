"""Turning a request body into Kafka records, or into the full list of problems. Pure.

Every record is pseudonymised first, then checked against its sender (a source may only send for
its own province, under its own id) and against the dossier-event/1 contract. A request is all or
nothing: one bad record rejects the whole request, with every problem listed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from dossier.contract import InvalidRecord, decode_event
from producers.pseudonym import Pseudonymiser
from producers.sources import Source
from producers.sync import SyncError, envelope_events

Record = tuple[bytes, bytes]  # (key = dossier_id, value = JSON)


@dataclass(frozen=True, slots=True)
class Problem:
    index: int | None  # position of the record in the request (line - 1 for NDJSON); None: the request
    field: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


class BadRequest(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def json_documents(body: bytes) -> Iterator[tuple[int, Any]]:
    """NDJSON (one JSON value a line; blank lines skipped) or one JSON document; raises BadRequest."""
    body = body.removeprefix(b"\xef\xbb\xbf")
    try:
        yield 0, orjson.loads(body)
        return
    except orjson.JSONDecodeError:
        pass
    problems, docs = [], []
    for i, line in enumerate(body.split(b"\n")):
        if not line.strip():
            continue
        try:
            docs.append((i, orjson.loads(line)))
        except orjson.JSONDecodeError as error:
            problems.append(Problem(i, "", f"not JSON: {error}"))
    if problems or not docs:
        raise BadRequest(problems or [Problem(None, "", "empty body")])
    yield from docs


def _check(index: int, event: Any, source: Source, pseudonym: Pseudonymiser, problems: list[Problem]) -> Record | None:
    if not isinstance(event, dict):
        problems.append(Problem(index, "", "must be a JSON object (a dossier-event/1 record)"))
        return None
    event = pseudonym.scrub(event)
    found = []
    if event.get("source") != source.id:
        found.append(Problem(index, "source", f"must be this token's source {source.id!r}"))
    if event.get("province") != source.province:
        found.append(Problem(index, "province", f"source {source.id!r} may only send for province {source.province!r}"))
    value = orjson.dumps(event)
    try:
        decode_event(value)
    except InvalidRecord as error:
        found += [Problem(index, v.field, v.reason) for v in error.violations]
    problems += found
    return None if found else (str(event["dossier_id"]).encode(), value)


def _prepared(items: list[tuple[int, Any]], source: Source, pseudonym: Pseudonymiser) -> list[Record]:
    problems: list[Problem] = []
    records = [_check(i, e, source, pseudonym, problems) for i, e in items]
    if problems:
        raise BadRequest(problems)
    return [r for r in records if r is not None]


def contract_records(body: bytes, source: Source, pseudonym: Pseudonymiser, max_events: int) -> list[Record]:
    """Records of a body holding one event, a JSON array of events, or NDJSON events."""
    docs = list(json_documents(body))
    if len(docs) == 1 and isinstance(docs[0][1], list):
        docs = list(enumerate(docs[0][1]))
    _limit(len(docs), max_events)
    return _prepared(docs, source, pseudonym)


def sync_records(body: bytes, source: Source, pseudonym: Pseudonymiser, max_events: int) -> list[Record]:
    """Records of a portal sync request (`DongBoHoSoMC` / `CapNhatTienDoHoSoMC`, or NDJSON of them)."""
    events: list[tuple[int, Any]] = []
    problems: list[Problem] = []
    for i, doc in json_documents(body):
        try:
            events += [(i, e) for e in envelope_events(doc, source, pseudonym)]
        except SyncError as error:
            problems += [Problem(i, v.field, v.reason) for v in error.violations]
    if problems:
        raise BadRequest(problems)
    _limit(len(events), max_events)
    return _prepared(events, source, pseudonym)


def _limit(count: int, max_events: int) -> None:
    if count > max_events:
        raise BadRequest([Problem(None, "", f"{count} records in one request; at most {max_events}")])


Preparer = Callable[[bytes, Source, Pseudonymiser, int], list[Record]]
