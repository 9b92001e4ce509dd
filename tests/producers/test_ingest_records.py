"""Request bodies to records: formats, sender checks, and every problem reported. Pure (no server)."""

from __future__ import annotations

import time
from datetime import date

import orjson
import pytest

from producers.edge import Bounds
from producers.ingest.records import BadRequest, Context, contract_records, sync_records
from producers.pseudonym import Pseudonymiser
from producers.simulator.stream import simulate
from producers.sources import Source
from tests.producers.helpers import snapshot

PSEUDONYM = Pseudonymiser(b"k" * 32)
SOURCE = Source(id="sim-04", province="04", default_unit="000.00.00.H04")
EVENTS = [e.value for e in simulate(5, ["04"], date(2025, 7, 7), date(2025, 7, 8))][:20]


def ctx(source: Source = SOURCE, max_events: int = 100) -> Context:
    return Context(source, PSEUDONYM, Bounds(), time.time(), max_events)


def problems(call, *args) -> list[tuple[int | None, str]]:
    with pytest.raises(BadRequest) as caught:
        call(*args)
    return [(p.index, p.field) for p in caught.value.problems]


def test_ndjson_a_json_array_and_a_single_object_are_accepted() -> None:
    ndjson = b"\n".join(EVENTS) + b"\n\n"
    records = contract_records(ndjson, ctx())
    assert [v for _, v in records] == [orjson.dumps(orjson.loads(e)) for e in EVENTS]
    assert contract_records(b"[" + b",".join(EVENTS) + b"]", ctx()) == records
    assert len(contract_records(EVENTS[0], ctx())) == 1


def test_every_problem_of_every_record_is_listed() -> None:
    bad = orjson.loads(EVENTS[0])
    bad.update(province="79", channel=2.0, source="other")
    del bad["dossier_id"]
    body = b"\n".join(
        [EVENTS[1], orjson.dumps(bad), b"[1]", b'{"schema":"clock-tick/1","at":"2025-07-07T08:00:00+07:00"}']
    )
    found = problems(contract_records, body, ctx())
    assert (1, "province") in found and (1, "source") in found and (1, "dossier_id") in found
    assert (2, "") in found and any(i == 3 for i, _ in found)
    assert all(i != 0 for i, _ in found)


def test_unreadable_lines_and_limits() -> None:
    assert problems(contract_records, EVENTS[0] + b"\n{oops\n", ctx()) == [(1, "")]
    assert problems(contract_records, b"  \n", ctx()) == [(None, "")]
    assert problems(contract_records, b"\n".join(EVENTS), ctx(max_events=5)) == [(None, "")]


def test_sync_requests_become_validated_records() -> None:
    source = Source(id="mc-04", province="04", units={"Sở Tư pháp": "000.00.01.H04"})
    body = orjson.dumps({"service": "DongBoHoSoMC", "isUpdating": True, "data": [snapshot()]})
    records = sync_records(body, ctx(source))
    assert len(records) == 7 and b"004123456789" not in b"".join(v for _, v in records)
    bad = orjson.dumps({"service": "DongBoHoSoMC", "data": [snapshot(), snapshot(NgayHenTra="")]})
    assert problems(sync_records, bad, ctx(source)) == [(0, "data[1].NgayHenTra")]
