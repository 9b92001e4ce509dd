"""The edge policy (producers.edge), pure: allowlist, pseudonyms, personal values, bounds, the token's province."""

from __future__ import annotations

import time
from datetime import date

import orjson
import pytest

from dossier.contract import Violation, decode_event
from producers.edge import Bounds, Grant, admit, province_of, redacted_reason
from producers.ingest.ratelimit import RateLimit
from producers.pseudonym import Pseudonymiser
from producers.simulator.stream import simulate
from producers.sources import Source

PSEUDONYM = Pseudonymiser(b"k" * 32)
NOW = time.time()
SOURCE = Source("sim-04", "04", default_unit="000.00.00.H04")
EVENTS = [orjson.loads(e.value) for e in simulate(5, ["04"], date(2025, 7, 7), date(2025, 7, 9))]
ACCEPTED = next(e for e in EVENTS if e["type"] == "accepted")
PLANTED = ("079012345678", "0912345678", "Nguyễn Thị Hồng", "ghi chú riêng tư", "1990-05-17")


def admitted(event: object, grant: Grant | None = SOURCE.grant, bounds: Bounds | None = None):
    return admit(event, grant, PSEUDONYM, NOW, bounds or Bounds())


def fields(violations: list[Violation]) -> set[str]:
    return {v.field for v in violations}


def test_valid_events_are_re_encoded_to_the_same_bytes_without_absent_fields() -> None:
    for event in EVENTS:
        result = admitted(event)
        assert result.record == (event["dossier_id"].encode(), orjson.dumps(event))
    with_nulls = ACCEPTED | {"fee": None, "rating": None, "deadline": {"value": 2.0, "unit": "working_days"}}
    key, value = admitted(with_nulls).record  # type: ignore[misc]
    assert b"null" not in value and b'"value":2,' in value and decode_event(value).record.dossier_id == key.decode()


def test_unknown_fields_are_dropped_and_identities_pseudonymised() -> None:
    event = ACCEPTED | {"sdt": PLANTED[1], "Họ tên": PLANTED[2], "note": PLANTED[3], "ngay_sinh": PLANTED[4]}
    event |= {"applicant": {"kind": 1, "id_hash": "B1234567", "name": PLANTED[2]}, "officer": PLANTED[2]}
    _, value = admitted(event).record  # type: ignore[misc]
    stored = orjson.loads(value)
    assert set(stored) <= set(ACCEPTED) | {"officer"} and stored["applicant"] == {
        "kind": 1,
        "id_hash": PSEUDONYM("B1234567"),
    }
    assert stored["officer"] == PSEUDONYM(PLANTED[2])
    for planted in PLANTED:
        assert planted.encode() not in value


@pytest.mark.parametrize(
    ("field", "value"),
    [("applicant", {"kind": 1, "id_hash": "079012345678"}), ("officer", "0912 345 678"), ("officer", "+84912345678"),
     ("event_id", "cccd-079012345678"), ("procedure_field", "0912345678")],
)  # fmt: skip
def test_raw_cccd_and_phone_numbers_are_refused(field: str, value: object) -> None:
    result = admitted(ACCEPTED | {field: value})
    assert result.record is None and any("looks like" in v.reason for v in result.invalid)
    assert b"079012345678" not in result.dlq.value and b"345" not in result.dlq.value  # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["000.00.00.H04-2507\x00-1", "a\tb", "a b", "Nguyễn", "x" * 129, "\u202e1"])
def test_ids_and_codes_are_printable_ascii(value: str) -> None:
    assert fields(admitted(ACCEPTED | {"event_id": value}).invalid) == {"event_id"}


def test_event_time_is_bounded() -> None:
    for when in ("2099-01-01T00:00:00+07:00", "1990-01-01T00:00:00+07:00", "2014-12-31T23:59:59+07:00"):
        assert "occurred_at" in fields(admitted(ACCEPTED | {"occurred_at": when}).invalid)
    weeks_ahead = ACCEPTED | {"occurred_at": "2025-07-07T09:00:00+07:00", "due_at": "2025-09-07T09:00:00+07:00"}
    assert admitted(weeks_ahead).record is not None  # a due date is legitimately weeks after acceptance
    assert fields(admitted(ACCEPTED | {"due_at": "2099-01-01T00:00:00+07:00"}).invalid) == {"due_at"}
    tomorrow = Bounds.parse("2025-07-08T00:00:00+07:00", 0, 86400)
    late = ACCEPTED | {"occurred_at": "2025-07-07T09:00:00+07:00", "due_at": "2025-07-10T09:00:00+07:00"}
    assert fields(admitted(late, bounds=tomorrow).invalid) == {"occurred_at", "due_at"}


def test_province_codes_of_ids_and_units() -> None:
    assert province_of("000.00.01.H26-250702-0012") == "26" == province_of("000.00.01.H26")
    assert province_of("D1") is province_of("000.00.01.H260-1") is province_of(7) is None


def test_a_token_writes_only_its_province_s_dossiers_and_units() -> None:
    other = ACCEPTED | {"dossier_id": "000.00.00.H01-250701-0007", "type": "withdrawn"}
    assert fields(admitted(other).forbidden) == {"dossier_id"}
    assert fields(admitted(ACCEPTED | {"dossier_id": "D1"}).forbidden) == {"dossier_id"}  # no province code
    assert fields(admitted(ACCEPTED | {"unit": "000.00.01.H79", "receiving_unit": "X"}).forbidden) == {
        "unit", "receiving_unit",
    }  # fmt: skip
    assert fields(admitted(ACCEPTED | {"source": "sim-79", "province": "79"}).forbidden) == {"source", "province"}
    assert admitted({}).forbidden == []  # absent fields are the contract's business (422), not the grant's
    assert admitted(ACCEPTED, grant=None).record is not None


def test_after_the_merger_a_new_province_writes_the_dossiers_of_its_old_codes() -> None:
    grant = Source("mc-24", "24", default_unit="000.00.00.H24").grant
    assert grant.codes == {"24", "27"}
    old_id = ACCEPTED | {"source": "mc-24", "province": "24", "unit": "000.00.01.H27",
                         "receiving_unit": "000.00.00.H24", "dossier_id": "000.00.01.H27-250612-0001"}  # fmt: skip
    assert admitted(old_id, grant).record is not None
    before = old_id | {
        "province": "27",
        "occurred_at": "2025-06-12T09:00:00+07:00",
        "due_at": "2025-06-20T09:00:00+07:00",
    }
    assert admitted(before, grant).record is not None  # sent under the GSO code it had then
    assert fields(admitted(before | {"occurred_at": "2025-07-02T09:00:00+07:00"}, grant).forbidden) == {"province"}
    assert fields(admitted(old_id | {"dossier_id": "000.00.01.H01-250612-0001"}, grant).forbidden) == {"dossier_id"}


@pytest.mark.parametrize("depth", [260, 1000, 5000])
def test_deep_values_are_refused_without_recursing(depth: int) -> None:
    deep: object = 1
    for _ in range(depth):
        deep = [deep]
    assert admitted(ACCEPTED | {"x": {"y": deep}}).record is not None  # an unknown field: dropped unread
    result = admitted(ACCEPTED | {"applicant": {"kind": deep}, "type": deep, "deadline": deep})
    assert fields(result.invalid) >= {"applicant.kind", "type", "deadline"}
    assert len(result.dlq.value) < 2000  # type: ignore[union-attr]
    assert admitted(deep).invalid[0].reason.startswith("must be a JSON object")


def test_the_dlq_copy_keeps_no_personal_value_and_says_what_was_redacted() -> None:
    event = ACCEPTED | {"so_cccd": PLANTED[0], "occurred_at": PLANTED[2], "unit": PLANTED[3], "officer": PLANTED[1]}
    event |= {"applicant": {"kind": 1, "id_hash": PLANTED[0], "SĐT": PLANTED[1]}, "ngay_sinh": PLANTED[4]}
    result = admitted(event)
    copy = result.dlq
    assert result.record is None and copy is not None and copy.key == ACCEPTED["dossier_id"].encode()
    reason = redacted_reason(result.violations)
    for planted in PLANTED:
        assert planted.encode() not in copy.value and planted not in reason
    assert "dropped 3 field(s)" in copy.redacted and "officer" in copy.redacted and "unit" in copy.redacted
    assert orjson.loads(copy.value)["dossier_id"] == ACCEPTED["dossier_id"]  # plain codes stay readable
    assert redacted_reason([Violation("x", "'0912345678' and 079012345678 are bad")]) == "x: '…' and … are bad"


def test_rate_limit_is_a_token_bucket_of_records_per_source() -> None:
    limit = RateLimit(rate=10, burst=20)
    assert limit.retry_after("a", 0) is None
    limit.take("a", 50, 0)  # a large request passes once, then the source waits for its debt to refill
    assert limit.retry_after("a", 0) == 4 and limit.retry_after("b", 0) is None
    assert limit.retry_after("a", 3.0) == 1 and limit.retry_after("a", 3.1) is None
