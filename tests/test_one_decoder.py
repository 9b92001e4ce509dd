"""Every reader of events decides "event, clock tick or invalid" the same way: through dossier.contract.decode_record.

The ingest edge, the importer, the streams worker, the sink and the audit are fed the same records; a valid
event counts everywhere, a valid tick is skipped everywhere (and refused by the ingest: sources send no
ticks), everything else is refused everywhere with a reason.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from aiokafka.structs import ConsumerRecord

from audit.dossiers import DossierPass
from dossier.calendar import WorkingCalendar, day_number, day_start
from dossier.contract import CALENDAR_SPAN, ClockTick, InvalidRecord, InvalidTick, decode_record, dossier_key
from producers.edge import Bounds
from producers.importer import Edge, Rejected, event_file_items
from producers.ingest.records import BadRequest, Context, contract_records
from producers.pseudonym import Pseudonymiser
from producers.sources import Source
from sinks.processors import process_events
from streams.app import decode_record as streams_decoder
from tests.domain.spec_helpers import accepted

EVENT = orjson.dumps(accepted("000.00.01.H04-250707-0001", "2025-07-07T09:00:00+07:00", "2025-07-10T09:00:00+07:00",
                              province="04", unit="000.00.01.H04", source="mc-04"))
TICK = b'{"schema":"clock-tick/1","at":"2025-07-07T10:00:00+07:00"}'
BAD_TICK = b'{"schema":"clock-tick/1","at":"soon"}'
INVALID = b'{"schema":"dossier-event/1","event_id":"e","dossier_id":"D","type":"teleported"}'
NOT_JSON = b"{oops"
OUTSIDE = orjson.dumps(accepted("D-1990", "1990-01-02T09:00:00+07:00", "1990-01-05T09:00:00+07:00"))
RECORDS = {"event": EVENT, "tick": TICK, "bad tick": BAD_TICK, "invalid": INVALID, "not json": NOT_JSON,
           "outside the calendar": OUTSIDE}
EXPECTED = {"event": "event", "tick": "tick", "bad tick": "invalid", "invalid": "invalid", "not json": "invalid",
            "outside the calendar": "invalid"}


def by_the_decoder(raw: bytes) -> str:
    try:
        return "tick" if isinstance(decode_record(raw), ClockTick) else "event"
    except InvalidRecord:
        return "invalid"


def by_the_audit(raw: bytes) -> str:
    seen: list[Any] = []
    with DossierPass(0, lambda n, v: seen.append(v)) as dossiers:
        dossiers.add(1, raw)
        events = [e for group in dossiers.dossiers() for e in group]
    stats = dossiers.stats
    assert bool(seen) == bool(stats.invalid)
    return "event" if events else "tick" if stats.ticks else "invalid"


def by_the_sink(raw: bytes) -> str:
    message = ConsumerRecord("dossier.events", 0, 7, 1_751_414_400_000, 0, None, raw, None, len(raw), -1, [])
    processed = process_events("dossier.events", 0, [message])
    return "event" if processed.sources else "tick" if processed.skipped else "invalid"


def by_the_importer(raw: bytes) -> str:
    items = list(event_file_items([raw], Edge(Pseudonymiser(b"k" * 32), Bounds(earliest=0.0), time.time())))
    return "tick" if not items else "invalid" if isinstance(items[0], Rejected) else "event"


@pytest.mark.parametrize("name", RECORDS)
def test_every_reader_decides_like_the_decoder(name: str) -> None:
    raw = RECORDS[name]
    assert by_the_decoder(raw) == EXPECTED[name]
    for reader in (by_the_audit, by_the_sink, by_the_importer):
        assert reader(raw) == EXPECTED[name], reader.__name__
    assert streams_decoder is decode_record


def test_the_ingest_refuses_ticks_with_a_reason_and_takes_events() -> None:
    context = Context(Source(id="mc-04", province="04"), Pseudonymiser(b"k" * 32), Bounds(), time.time(), 10)
    assert len(contract_records(EVENT, context)) == 1
    with pytest.raises(BadRequest) as refused:
        contract_records(TICK, context)
    assert [(p.field, "tick producer" in p.reason) for p in refused.value.problems] == [("schema", True)]


def test_an_invalid_tick_is_named_as_one() -> None:
    with pytest.raises(InvalidTick) as bad:
        decode_record(BAD_TICK)
    assert [v.field for v in bad.value.violations] == ["at"]
    with pytest.raises(InvalidRecord) as not_a_tick:
        decode_record(INVALID)
    assert not isinstance(not_a_tick.value, InvalidTick)


def test_the_calendar_span_is_the_calendars() -> None:
    assert CALENDAR_SPAN[0] == day_start(day_number(WorkingCalendar.ORIGIN))


def test_the_dossier_key_is_the_decoded_dossier_id() -> None:
    assert dossier_key(EVENT) == "000.00.01.H04-250707-0001"
    assert dossier_key(b'{"a": 1, "dossier_id": "D\\u0031"}') == "D1"
    for keyless in (TICK, NOT_JSON, b"[1]", b'{"dossier_id": 5}', b"   "):
        assert dossier_key(keyless) is None


def test_a_tick_is_decided_without_the_events_full_validator(monkeypatch: pytest.MonkeyPatch) -> None:
    import dossier.contract

    def no_validator(record: dict[str, Any]) -> list[Any]:
        raise AssertionError("a tick went through the event validator")

    monkeypatch.setattr(dossier.contract, "validate", no_validator)
    assert isinstance(decode_record(TICK), ClockTick)
    with pytest.raises(InvalidTick):
        decode_record(BAD_TICK)


def test_a_record_nested_too_deeply_is_invalid_for_every_reader() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    assert by_the_decoder(deep) == "invalid"
    for reader in (by_the_audit, by_the_sink, by_the_importer):
        assert reader(deep) == "invalid", reader.__name__
