"""Turning a request body into Kafka records, or into the full list of problems. Pure.

Every record goes through the edge policy (`producers.edge.admit`: allowlist, pseudonyms, bounded
event time, the token's province). A request is all or nothing: one bad record rejects the whole
request, with every problem listed, and each refused record's scrubbed copy is returned for
`dossier.dlq`. 403 when some record is outside what the token may write, 422 when records are
invalid, 400 when the body is not JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from dossier.contract import Violation
from producers.edge import Admitted, Bounds, Refused, admit
from producers.pseudonym import Pseudonymiser
from producers.sources import Source
from producers.sync import SyncError, envelope, record_events, refusal

Record = tuple[bytes, bytes]  # (key = dossier_id, value = JSON)


@dataclass(frozen=True, slots=True)
class Problem:
    index: int | None  # position of the record in the request (line - 1 for NDJSON); None: the request
    field: str
    reason: str
    forbidden: bool = False  # outside what the token may write (403), else invalid (422)

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


class BadRequest(ValueError):
    def __init__(self, problems: list[Problem], refused: list[Refused] | None = None) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems
        self.refused = refused or []

    def __reduce__(self) -> tuple[type[BadRequest], tuple[list[Problem], list[Refused]]]:
        """Picklable as it is (it crosses from the validating process to the server's)."""
        return BadRequest, (self.problems, self.refused)

    @property
    def status(self) -> int:
        if any(p.reason.startswith("not JSON") or p.reason == "empty body" for p in self.problems):
            return 400
        return 403 if any(p.forbidden for p in self.problems) else 422


@dataclass(frozen=True, slots=True)
class Context:
    """Who sends, with which key, against which bounds, at what wall-clock time (for the future bound)."""

    source: Source
    pseudonym: Pseudonymiser
    bounds: Bounds
    now: float
    max_events: int


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


class _Outcome:
    """Collects the records, problems and refusals of one request."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.problems: list[Problem] = []
        self.refused: list[Refused] = []

    def refuse(self, index: int, violations: list[Violation], refused: Refused, forbidden: int = 0) -> None:
        """Record `violations` (the first `forbidden` of them are authorisation problems)."""
        self.problems += [Problem(index, v.field, v.reason, n < forbidden) for n, v in enumerate(violations)]
        self.refused.append(refused)

    def admitted(self, index: int, result: Admitted) -> None:
        if result.record is not None:
            self.records.append(result.record)
        else:
            self.refuse(index, result.violations, result.refusal(), len(result.forbidden))

    def result(self) -> list[Record]:
        if self.problems:
            raise BadRequest(self.problems, self.refused)
        return self.records


def _admit_all(items: list[tuple[int, Any]], ctx: Context, out: _Outcome) -> list[Record]:
    _limit(len(items), ctx.max_events)
    grant = ctx.source.grant
    for i, doc in items:
        out.admitted(i, admit(doc, grant, ctx.pseudonym, ctx.now, ctx.bounds))
    return out.result()


def contract_records(body: bytes, ctx: Context) -> list[Record]:
    """Records of a body holding one event, a JSON array of events, or NDJSON events."""
    docs = list(json_documents(body))
    if len(docs) == 1 and isinstance(docs[0][1], list):
        docs = list(enumerate(docs[0][1]))
    return _admit_all(docs, ctx, _Outcome())


def sync_records(body: bytes, ctx: Context) -> list[Record]:
    """Records of a portal sync request (`DongBoHoSoMC` / `CapNhatTienDoHoSoMC`, or NDJSON of them)."""
    out = _Outcome()
    events: list[tuple[int, Any]] = []
    for i, doc in json_documents(body):
        try:
            mapper, data = envelope(doc)
        except SyncError as error:
            out.refuse(i, error.violations, refusal(doc, error.violations, ctx.pseudonym))
            continue
        for j, record in enumerate(data):
            try:
                events += [(i, e) for e in record_events(mapper, j, record, ctx.source, ctx.pseudonym)]
            except SyncError as error:
                out.refuse(i, error.violations, refusal(record, error.violations, ctx.pseudonym))
    return _admit_all(events, ctx, out)


def _limit(count: int, max_events: int) -> None:
    if count > max_events:
        raise BadRequest([Problem(None, "", f"{count} records in one request; at most {max_events}")])


Preparer = Callable[[bytes, Context], list[Record]]
