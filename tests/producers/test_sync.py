"""The portal's sync format becomes contract events as DOMAIN.md section 9 says."""

from __future__ import annotations

import orjson
import pytest

from dossier.contract import decode_event
from producers.pseudonym import Pseudonymiser
from producers.sources import Source
from producers.sync import SyncError, envelope_events, progress_events, snapshot_events
from tests.producers.helpers import snapshot

SOURCE = Source(id="mc-04", province="04", units={"Sở Tư pháp": "000.00.01.H04"}, default_unit="000.00.00.H04")
PSEUDONYM = Pseudonymiser(b"k" * 32)


def by_type(events: list[dict]) -> dict[str, dict]:
    return {e["type"]: e for e in events}


def test_a_returned_snapshot_implies_its_whole_lifecycle() -> None:
    events = snapshot_events(snapshot(), SOURCE, PSEUDONYM)
    assert [e["type"] for e in events] == [
        "submitted", "accepted", "supplement_requested", "supplement_received", "payment_completed",
        "resolved", "returned",
    ]  # fmt: skip
    for e in events:
        decode_event(orjson.dumps(e))  # every event is valid
        assert (e["source"], e["province"], e["unit"]) == ("mc-04", "04", "000.00.01.H04")
        assert (e["procedure_code"], e["procedure_field"]) == ("2.000488", "LLTP")
    t = by_type(events)
    assert t["accepted"]["occurred_at"] == "2025-07-02T09:15:00+07:00"
    assert t["accepted"]["due_at"] == "2025-07-16T09:15:00+07:00"
    assert t["accepted"]["channel"] == 2 and t["accepted"]["online_level"] == "full"  # from the catalogue
    assert t["accepted"]["digitized"] is True and t["accepted"]["reused_data"] is True
    assert t["accepted"]["fee"] == 200_000
    assert t["accepted"]["applicant"] == {"kind": 1, "id_hash": PSEUDONYM("004123456789")}
    assert t["payment_completed"] == {
        **t["payment_completed"],
        "paid_online": True,
        "occurred_at": "2025-07-02T09:15:00+07:00",
    }
    assert t["resolved"]["occurred_at"] == "2025-07-14T16:00:00+07:00" and t["resolved"]["electronic_result"] is True
    assert t["returned"]["occurred_at"] == "2025-07-14T16:30:00+07:00" and t["returned"]["return_channel"] == 2
    assert t["supplement_received"]["occurred_at"] == "2025-07-07T08:30:00+07:00"
    assert [e["status"] for e in events] == [1, 2, 5, 4, 4, 9, 10]


def test_event_ids_are_derived_so_resending_is_harmless() -> None:
    first = snapshot_events(snapshot(), SOURCE, PSEUDONYM)
    assert first == snapshot_events(snapshot(), SOURCE, PSEUDONYM)
    assert by_type(first)["accepted"]["event_id"] == "dvcqg:accepted:20250702091500"
    twice = snapshot(DanhSachHoSoBoSung=[{"NgayBoSung": "20250704100000"}, {"NgayBoSung": "20250704100000"}])
    ids = [e["event_id"] for e in snapshot_events(twice, SOURCE, PSEUDONYM) if e["type"] == "supplement_requested"]
    assert ids == ["dvcqg:supplement_requested:20250704100000", "dvcqg:supplement_requested:20250704100000:1"]


def test_no_personal_field_enters_an_event() -> None:
    text = orjson.dumps(snapshot_events(snapshot(), SOURCE, PSEUDONYM)).decode()
    for personal in ("004123456789", "Nguyễn", "0912345678", "an.nguyen", "Lê Lợi", "TenTTHC", "Email"):
        assert personal not in text


@pytest.mark.parametrize(
    ("overrides", "returned"),
    [({"HinhThuc": "1"}, 3), ({"KenhThucHien": "1"}, 1), ({"DanhSachGiayToKetQua": []}, 1), ({"KenhThucHien": ""}, 1)],
)
def test_return_channel(overrides: dict, returned: int) -> None:
    assert by_type(snapshot_events(snapshot(**overrides), SOURCE, PSEUDONYM))["returned"]["return_channel"] == returned


@pytest.mark.parametrize(
    ("status", "types", "at"),
    [
        ("3", ["submitted", "accepted", "rejected"], "NgayTuChoi"),
        ("7", ["withdrawn"], "NgayKetThucXuLy"),
        ("8", ["stopped"], "NgayKetThucXuLy"),
        ("9", ["resolved"], "NgayKetThucXuLy"),
        ("4", [], None),
    ],
)
def test_end_events_follow_the_status(status: str, types: list[str], at: str | None) -> None:
    record = snapshot(
        TrangThaiHoSo=status, NgayTuChoi="20250703080000", DanhSachHoSoBoSung=[], DuocThanhToanTrucTuyen="0"
    )
    events = snapshot_events(record, SOURCE, PSEUDONYM)
    ends = [e for e in events if e["type"] in ("rejected", "withdrawn", "stopped", "resolved", "returned")]
    assert [e["type"] for e in ends] == [t for t in types if t not in ("submitted", "accepted")]
    if at:
        assert ends[-1]["event_id"].endswith(":" + str(record[at]))


def test_every_problem_is_reported_with_its_path() -> None:
    bad = snapshot(
        MaHoSo="", TrangThaiHoSo="11", NgayTiepNhan="2025-07-02", KenhThucHien="x", DanhSachLePhi=[{"Gia": "abc"}]
    )
    with pytest.raises(SyncError) as caught:
        envelope_events({"service": "DongBoHoSoMC", "isUpdating": False, "data": [snapshot(), bad]}, SOURCE, PSEUDONYM)
    fields = {v.field for v in caught.value.violations}
    assert fields == {
        "data[1].MaHoSo", "data[1].TrangThaiHoSo", "data[1].NgayTiepNhan", "data[1].KenhThucHien",
        "data[1].DanhSachLePhi[0].Gia",
    }  # fmt: skip


def test_envelope_errors() -> None:
    with pytest.raises(SyncError) as caught:
        envelope_events({"service": "Other", "isUpdating": "no", "data": []}, SOURCE, PSEUDONYM)
    assert {v.field for v in caught.value.violations} == {"service", "isUpdating", "data"}
    with pytest.raises(SyncError):
        envelope_events([1], SOURCE, PSEUDONYM)
    for service in ({}, [None, None], 1, None, True):  # unhashable or wrong types: a SyncError, not a TypeError
        with pytest.raises(SyncError) as caught:
            envelope_events({"service": service, "data": [snapshot()]}, SOURCE, PSEUDONYM)
        assert [v.field for v in caught.value.violations] == ["service"]


def test_unmapped_unit_without_default_is_an_error() -> None:
    strict = Source(id="mc-04", province="04", units={"Sở Tư pháp": "000.00.01.H04"})
    with pytest.raises(SyncError, match="DonViXuLy"):
        snapshot_events(snapshot(DonViXuLy="Sở Khác"), strict, PSEUDONYM)
    assert snapshot_events(snapshot(DonViXuLy="000.00.01.H04"), strict, PSEUDONYM)[0]["unit"] == "000.00.01.H04"


def test_a_progress_step_is_one_event_with_a_pseudonymous_officer() -> None:
    step = {"MaHoSo": "D1", "MaTTHC": "2.000488", "NguoiXuLy": "Trần Thị B", "ThoiDiemXuLy": "20250703101500",
            "TrangThai": "4", "PhongBanXuLy": "Sở Tư pháp", "NoiDungXuLy": "Thẩm định"}  # fmt: skip
    [event] = progress_events(step, SOURCE, PSEUDONYM)
    assert event["type"] == "processing" and event["status"] == 4
    assert event["officer"] == PSEUDONYM("Trần Thị B")
    assert event["event_id"] == "dvcqg:processing:20250703101500"
    assert "Thẩm định" not in orjson.dumps(event).decode()
    [supplement] = progress_events({**step, "TrangThai": 5}, SOURCE, PSEUDONYM)
    assert supplement["type"] == "supplement_requested"
