"""The dossier-event/1 contract: every violation named, and both readers agreeing with the JSON Schema."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dossier.contract import (
    ClockTick,
    InvalidRecord,
    ParsedEvent,
    Violation,
    decode_event,
    decode_events,
    decode_record,
    decode_tick,
    dossier_key,
    dossier_keys,
    parse_timestamp,
    schema_path,
    validate,
)

VALID: dict[str, Any] = {
    "schema": "dossier-event/1",
    "event_id": "e1",
    "dossier_id": "000.00.01.H26-250702-0012",
    "type": "accepted",
    "occurred_at": "2025-07-02T09:15:00+07:00",
    "source": "hcm-motcua",
    "province": "79",
    "unit": "000.00.12.H79",
    "procedure_code": "1.001234",
    "online_level": "full",
    "channel": 2,
    "deadline": {"value": 3, "unit": "working_days"},
}


def violations_of(record: dict[str, Any]) -> list[Violation]:
    try:
        decode_event(orjson.dumps(record))
    except InvalidRecord as invalid:
        return invalid.violations
    return []


def with_(**changes: Any) -> dict[str, Any]:
    record = dict(VALID)
    for name, value in changes.items():
        if value is _DROP:
            record.pop(name, None)
        else:
            record[name] = value
    return record


_DROP = object()


def test_a_valid_record_decodes_with_its_instants_parsed():
    event = decode_event(orjson.dumps({**VALID, "unknown_extra": {"kept": True}}))
    assert event.record.dossier_id == VALID["dossier_id"]
    assert event.occurred_ts == 1751422500.0  # 2025-07-02T02:15:00Z
    assert event.due_ts is None


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (with_(schema="dossier-event/2"), [Violation("schema", 'must be "dossier-event/1"')]),
        (with_(dossier_id=_DROP), [Violation("dossier_id", "missing")]),
        (with_(unit=""), [Violation("unit", "must not be empty")]),
        (with_(channel=2.0), [Violation("channel", "expected integer or null, got number (not an integer)")]),
        (with_(channel=True), [Violation("channel", "expected integer or null, got boolean")]),
        (with_(channel=4), [Violation("channel", "must be at most 3, got 4")]),
        (with_(channel=None), [Violation("channel", "required on a 'accepted' event")]),
        (with_(online_level=_DROP), [Violation("online_level", "required on a 'accepted' event")]),
        (with_(deadline=_DROP), [Violation("due_at", "an 'accepted' event needs due_at or deadline")]),
        (with_(deadline=None, due_at=None), [Violation("due_at", "an 'accepted' event needs due_at or deadline")]),
        (
            with_(deadline={"value": 1.5, "unit": "calendar_days"}),
            [Violation("deadline.value", "calendar_days must be whole days")],
        ),
        (
            with_(deadline={"value": -1, "unit": "working_days"}),
            [Violation("deadline.value", "must be at least 0, got -1")],
        ),
        (with_(fee=-5), [Violation("fee", "must be at least 0, got -5")]),
        (
            with_(occurred_at="2025-07-02T09:15:00"),
            [Violation("occurred_at", "datetime without offset: '2025-07-02T09:15:00'")],
        ),
        (
            with_(occurred_at="2025-07-02 09:15:00+07:00"),
            [Violation("occurred_at", "not an RFC 3339 datetime: '2025-07-02 09:15:00+07:00'")],
        ),
        (
            with_(type="teleported"),
            [
                Violation(
                    "type",
                    'unknown event type "teleported"; one of '
                    + ", ".join(
                        json.dumps(t)
                        for t in json.loads(schema_path("dossier-event-1.schema.json").read_text())["properties"][
                            "type"
                        ]["enum"]
                    ),
                )
            ],
        ),
        (with_(type="rated"), [Violation("rating", "required on a 'rated' event")]),
        (with_(type="returned"), [Violation("return_channel", "required on a 'returned' event")]),
        (with_(type="resolved"), [Violation("electronic_result", "required on a 'resolved' event")]),
        (with_(type="payment_completed"), [Violation("paid_online", "required on a 'payment_completed' event")]),
        (with_(type="apology_issued"), [Violation("due_at", "required on a 'apology_issued' event")]),
        (with_(status=11), [Violation("status", "must be at most 10, got 11")]),
        (with_(applicant={"kind": 3}), [Violation("applicant.kind", "not allowed 3; one of 1, 2")]),
    ],
)
def test_each_violation_is_named_with_its_field_and_reason(record, expected):
    assert violations_of(record) == expected
    assert validate(record) == expected


def test_every_violation_of_a_record_is_reported_at_once():
    record = with_(event_id="", channel="2", occurred_at="yesterday", type="accepted", deadline=_DROP)
    assert [v.field for v in violations_of(record)] == ["channel", "due_at", "event_id", "occurred_at"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [(b"\xff\xfe", "not UTF-8"), (b'{"a": NaN}', "not JSON"), (b"[1, 2]", "not a JSON object"), (b"{", "not JSON")],
)
def test_lines_that_are_not_json_objects(line, reason):
    with pytest.raises(InvalidRecord) as raised:
        decode_event(line)
    assert raised.value.violations[0].reason.startswith(reason)


def test_instants_parse_the_same_the_first_time_and_from_the_caches():
    for value, expected in (
        ("2025-07-02T09:15:00+07:00", 1751422500.0),
        ("2025-07-02T09:15:00.1234Z", 1751447700.1234),  # 25 characters too, with a fraction: never cached
        ("2025-07-02T09:15:00-02:30", 1751456700.0),
    ):
        assert [parse_timestamp(value) for _ in range(3)] == [expected] * 3, value


@given(
    moment=st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)),
    offset_minutes=st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
def test_the_cached_shape_of_an_instant_equals_the_general_rule(moment: datetime, offset_minutes: int) -> None:
    """Any ``YYYY-MM-DDTHH:MM:SS+HH:MM``, parsed the first time and again from the caches, is what ``datetime``
    says; the same parts with another character at any separator are refused, even once the parts are cached."""
    value = moment.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=offset_minutes))).isoformat()
    assert len(value) == 25
    expected = datetime.fromisoformat(value).timestamp()
    assert [parse_timestamp(value) for _ in range(2)] == [expected] * 2
    for position in (4, 7, 10, 13, 16, 19, 22):
        with pytest.raises(ValueError):
            parse_timestamp(value[:position] + "x" + value[position + 1 :])


def test_null_in_an_optional_field_means_absent():
    event = decode_event(orjson.dumps(with_(procedure_field=None, fee=None, officer=None)))
    assert event.record.procedure_field is None


def test_clock_ticks():
    assert decode_tick(b'{"schema": "clock-tick/1", "at": "2025-07-02T00:00:00Z"}').at == "2025-07-02T00:00:00Z"
    with pytest.raises(InvalidRecord):
        decode_tick(b'{"schema": "clock-tick/1", "at": "soon"}')


# ---------------------------------------------------------------- the fast reader agrees with the schema

_odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "",
            "x",
            "full",
            "none",
            "working_days",
            "calendar_days",
            "dissatisfied",
            "2025-07-02",
            "2025-07-02T09:15:00+07:00",
            "2025-07-02T09:15:00Z",
            "2025-07-02T09:15:00.5-03:30",
            "2025-07-02T09:15:00",
            "2025-13-02T09:15:00+07:00",
            "2025-07-02t09:15:00z",
            "accepted",
            "rated",
            "resolved",
            "dossier-event/1",
        ]
    ),
    st.just({"value": 3, "unit": "working_days"}),
    st.just({"value": 2.5, "unit": "calendar_days"}),
    st.just({"value": 1}),
    st.just({"kind": 1, "id_hash": "h"}),
    st.just({"kind": 2.0}),
    st.just([1]),
)
_fields = st.sampled_from(sorted(json.loads(schema_path("dossier-event-1.schema.json").read_text())["properties"]))


@settings(max_examples=600, deadline=None)
@given(
    base_type=st.sampled_from(
        [
            "accepted",
            "submitted",
            "processing",
            "resolved",
            "returned",
            "rated",
            "apology_issued",
            "payment_completed",
            "supplement_requested",
        ]
    ),
    changes=st.dictionaries(_fields, st.one_of(st.just(_DROP), _odd_values), max_size=4),
)
def test_the_fast_reader_and_the_json_schema_agree(base_type, changes):
    record = with_(**{"type": base_type, **changes})
    assert violations_of(record) == validate(record)


# ---------------------------------------------------------------- the batch readers agree with the record readers

_records = st.one_of(
    st.dictionaries(_fields, st.one_of(st.just(_DROP), _odd_values), max_size=2).map(
        lambda changes: orjson.dumps(with_(**changes))
    ),
    st.sampled_from(
        [
            orjson.dumps(VALID),
            b' {"schema": "clock-tick/1", "at": "2025-07-02T00:00:00Z", "dossier_id": "D"}\n',
            b'{"schema": "dossier-event/1", "dossier_id": "D"}',
            b'{"dossier_id": 7}',
            b"[1]",
            b"{oops",
        ]
    ),
)
"""Records that are one JSON text each (or not JSON): a blank record has no key, so it is never in an array."""


def _decided(record: bytes) -> ParsedEvent | ClockTick | None:
    try:
        return decode_record(record)
    except InvalidRecord:
        return None


@settings(max_examples=300, deadline=None)
@given(records=st.lists(_records, min_size=1, max_size=6))
def test_a_json_array_of_records_decodes_as_each_record_does(records: list[bytes]) -> None:
    """``decode_events`` gives ``decode_record``'s events when every record is a valid event, else None."""
    alone = [_decided(r) for r in records]
    in_one = decode_events(b"[" + b",".join(records) + b"]")
    assert in_one == (alone if all(type(e) is ParsedEvent for e in alone) else None)


@settings(max_examples=300, deadline=None)
@given(records=st.lists(st.one_of(_records, st.just(b""), st.just(b"  ")), max_size=6))
def test_the_keys_of_records_read_at_once_are_each_records_key(records: list[bytes]) -> None:
    keys = [dossier_key(r) for r in records]
    assert dossier_keys(records) == (None if None in keys else keys)
