"""The national portal's sync format (DOMAIN.md section 9) mapped to dossier-event/1 events. Pure.

`DongBoHoSoMC` records are dossier snapshots and become every event they imply; a
`CapNhatTienDoHoSoMC` record is one progress step. Event ids are derived from the event type and
time, so re-sending a snapshot yields the same events (deduplicated downstream). Only mapped fields
enter an event: names, phones, e-mail, addresses never do, and the applicant's id number becomes
an HMAC pseudonym. Every problem of a request is collected, with its field path, before failing.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from dossier.contract import EVENT_SCHEMA, STATUS_BY_TYPE, Violation
from producers.edge import UNREADABLE, Quarantined, Refused, pseudonymised, quarantine, redacted_reason, shaped
from producers.sources import Source

SNAPSHOT, PROGRESS = "DongBoHoSoMC", "CapNhatTienDoHoSoMC"
TYPE_BY_STATUS = {
    1: "submitted",
    2: "accepted",
    3: "rejected",
    4: "processing",
    5: "supplement_requested",
    6: "payment_requested",
    7: "withdrawn",
    8: "stopped",
    9: "resolved",
    10: "returned",
}
Event = dict[str, Any]


class SyncError(ValueError):
    """The request cannot be mapped; `violations` names every problem with its field path."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(map(str, violations)))
        self.violations = violations


class _Reader:
    """Reads one record's fields the lenient way real systems need, collecting errors."""

    def __init__(self, record: Mapping[str, Any], prefix: str, errors: list[Violation]) -> None:
        self.record, self.prefix, self.errors = record, prefix, errors

    def fail(self, name: str, reason: str) -> None:
        self.errors.append(Violation(self.prefix + name, reason))

    def text(self, name: str, required: bool = False) -> str | None:
        value = self.record.get(name)
        if value is None or value == "":
            if required:
                self.fail(name, "required")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fail(name, "must be a string")
            return None
        return str(value).strip() or None

    def int(self, name: str, allowed: range | None = None, required: bool = False) -> int | None:
        """An integer code; digit strings ("2") are accepted, "" means absent."""
        value = self.record.get(name)
        if value is None or value == "":
            if required:
                self.fail(name, "required")
            return None
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, "must be an integer or a string of digits")
            return None
        if allowed is not None and value not in allowed:
            self.fail(name, f"must be between {allowed.start} and {allowed.stop - 1}")
            return None
        return value

    def time(self, name: str, required: bool = False) -> tuple[str, str] | None:
        """(raw `yyyyMMddHHmmss`, RFC 3339 in +07:00); "" means absent."""
        value = self.record.get(name)
        if value is None or value == "":
            if required:
                self.fail(name, "required")
            return None
        raw = value.strip() if isinstance(value, str) else ""
        try:
            if len(raw) != 14 or not raw.isdigit():
                raise ValueError
            moment = datetime.strptime(raw, "%Y%m%d%H%M%S")
        except ValueError:
            self.fail(name, "must be a time yyyyMMddHHmmss")
            return None
        return raw, moment.isoformat() + "+07:00"

    def items(self, name: str) -> list[Mapping[str, Any]]:
        value = self.record.get(name)
        if value is None or value == "":
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(name, "must be a list of objects")
            return []
        return [v for v in value if self.flag(v.get("IsDeleted")) is not True]

    @staticmethod
    def flag(value: object) -> bool | None:
        """1/"1"/true -> True, 0/"0"/false -> False."""
        if value in (1, "1", True):
            return True
        if value in (0, "0", False):
            return False
        return None


class _Events:
    """Collects a dossier's events with derived, repeat-safe event ids."""

    def __init__(self, dossier_id: str, common: Event) -> None:
        self.dossier_id, self.common = dossier_id, common
        self.events: list[Event] = []
        self._seen: collections.Counter[tuple[str, str]] = collections.Counter()

    def add(self, type_: str, at: tuple[str, str], **fields: Any) -> None:
        raw, iso = at
        n = self._seen[(type_, raw)]
        self._seen[(type_, raw)] += 1
        event: Event = {
            "schema": EVENT_SCHEMA,
            "event_id": f"dvcqg:{type_}:{raw}" + (f":{n}" if n else ""),
            "dossier_id": self.dossier_id,
            "type": type_,
            "occurred_at": iso,
            **self.common,
        }
        status = STATUS_BY_TYPE[type_]
        if status is not None:
            event["status"] = status
        event.update((k, v) for k, v in fields.items() if v is not None)
        self.events.append(event)


def _common(r: _Reader, source: Source, unit_field: str) -> tuple[str | None, Event]:
    dossier_id = r.text("MaHoSo", required=True)
    procedure = r.text("MaTTHC", required=True)
    unit = source.unit_for(r.record.get(unit_field))
    if unit is None:
        r.fail(unit_field, f"no unit code configured for {r.record.get(unit_field)!r} and no default unit")
    common: Event = {"source": source.id, "province": source.province, "unit": unit, "procedure_code": procedure}
    field = r.text("MaLinhVuc")
    if field:
        common["procedure_field"] = field
    return dossier_id, common


def snapshot_events(
    record: Mapping[str, Any], source: Source, pseudonym: Callable[[object], str], prefix: str = ""
) -> list[Event]:
    """The events a DongBoHoSoMC snapshot implies (DOMAIN.md section 9)."""
    errors: list[Violation] = []
    r = _Reader(record, prefix, errors)
    dossier_id, common = _common(r, source, "DonViXuLy")
    channel = r.int("KenhThucHien", range(1, 4)) or 1
    status = r.int("TrangThaiHoSo", range(1, 11), required=True)
    submitted, accepted, due = r.time("NgayNopHoSo"), r.time("NgayTiepNhan"), r.time("NgayHenTra")
    rejected_at, ended, returned_at = r.time("NgayTuChoi"), r.time("NgayKetThucXuLy"), r.time("NgayTra")
    kind = r.int("LoaiDoiTuong", range(1, 3)) or 1
    id_number = r.text("SoGiayToChuHoSo")
    fees = r.items("DanhSachLePhi")
    fee_total = 0
    for i, item in enumerate(fees):
        gia = _Reader(item, f"{prefix}DanhSachLePhi[{i}].", errors).int("Gia")
        fee_total += max(gia or 0, 0)
    documents = r.items("TaiLieuNop")
    results = r.items("DanhSachGiayToKetQua")
    supplements = [
        (_Reader(s, f"{prefix}DanhSachHoSoBoSung[{i}].", errors).time("NgayBoSung", required=True),
         _Reader(s, f"{prefix}DanhSachHoSoBoSung[{i}].", errors).time("NgayTiepNhanBoSung"))
        for i, s in enumerate(r.items("DanhSachHoSoBoSung"))
    ]  # fmt: skip
    if accepted and not due:
        r.fail("NgayHenTra", "required when NgayTiepNhan is set (the receipt's due date)")
    end_time = {3: ("NgayTuChoi", rejected_at), 7: ("NgayKetThucXuLy", ended), 8: ("NgayKetThucXuLy", ended),
                9: ("NgayKetThucXuLy", ended), 10: ("NgayTra", returned_at)}.get(status or 0)  # fmt: skip
    if end_time is not None and end_time[1] is None:
        r.fail(end_time[0], f"required when TrangThaiHoSo is {status}")
    if errors:
        raise SyncError(errors)
    assert dossier_id is not None

    online_level = source.online_level(common["procedure_code"])
    applicant = {"kind": kind, "id_hash": pseudonym(id_number)} if id_number else None
    e_result = any(str(d.get("DuongDanTepTinKetQua") or "").strip() for d in results)
    out = _Events(dossier_id, common)
    if submitted:
        out.add("submitted", submitted, online_level=online_level, channel=channel, applicant=applicant)
    if accepted:
        reused = any(_Reader.flag(d.get("DuocTaiSuDung")) or _Reader.flag(d.get("DuocLayTuKhoDMQG")) for d in documents)
        out.add(
            "accepted",
            accepted,
            online_level=online_level,
            channel=channel,
            due_at=due[1] if due else None,
            applicant=applicant,
            digitized=_Reader.flag(record.get("HoSoCoThanhPhanSoHoa")) is True,
            reused_data=reused,
            fee=fee_total if fees else None,
        )
    for requested, received in supplements:
        assert requested is not None
        out.add("supplement_requested", requested)
        if received:
            out.add("supplement_received", received)
    if accepted and r.int("DuocThanhToanTrucTuyen") in (1, 2):
        out.add("payment_completed", accepted, paid_online=True)
    if status == 3:
        out.add("rejected", rejected_at)
    elif status in (7, 8):
        out.add(TYPE_BY_STATUS[status], ended)
    elif status in (9, 10):
        out.add("resolved", ended or returned_at, electronic_result=e_result)
    if status == 10:
        how = 3 if r.int("HinhThuc") == 1 else 2 if channel == 2 and e_result else 1
        out.add("returned", returned_at, return_channel=how)
    return out.events


def progress_events(
    record: Mapping[str, Any], source: Source, pseudonym: Callable[[object], str], prefix: str = ""
) -> list[Event]:
    """The one event a CapNhatTienDoHoSoMC progress step stands for.

    Extension of the format: the record must carry MaTTHC, because the contract requires
    `procedure_code` on every event; DonViXuLy or PhongBanXuLy name the unit.
    """
    errors: list[Violation] = []
    r = _Reader(record, prefix, errors)
    unit_field = "DonViXuLy" if record.get("DonViXuLy") else "PhongBanXuLy"
    dossier_id, common = _common(r, source, unit_field)
    status = r.int("TrangThai", range(1, 11), required=True)
    at = r.time("ThoiDiemXuLy", required=True)
    officer = r.text("NguoiXuLy")
    if errors:
        raise SyncError(errors)
    assert dossier_id is not None and status is not None and at is not None
    out = _Events(dossier_id, common)
    out.add(TYPE_BY_STATUS[status], at, officer=pseudonym(officer) if officer else None)
    return out.events


Mapper = Callable[[Mapping[str, Any], Source, Callable[[object], str], str], list[Event]]
MAPPERS: dict[str, Mapper] = {SNAPSHOT: snapshot_events, PROGRESS: progress_events}


def envelope(body: object) -> tuple[Mapper, list[Any]]:
    """The mapper and the records of a sync request `{"service", "isUpdating", "data": [...]}`, or SyncError."""
    if not isinstance(body, dict):
        raise SyncError([Violation("", "must be a JSON object")])
    errors: list[Violation] = []
    service = body.get("service")
    mapper = MAPPERS.get(service) if isinstance(service, str) else None
    if mapper is None:
        errors.append(Violation("service", f"must be {SNAPSHOT!r} or {PROGRESS!r}"))
    if "isUpdating" in body and not isinstance(body["isUpdating"], bool):
        errors.append(Violation("isUpdating", "must be a boolean"))
    data = body.get("data")
    if not isinstance(data, list) or not data:
        errors.append(Violation("data", "must be a non-empty list of records"))
    if errors:
        raise SyncError(errors)
    assert mapper is not None and isinstance(data, list)
    return mapper, data


def record_events(
    mapper: Mapper, index: int | None, record: object, source: Source, pseudonym: Callable[[object], str]
) -> list[Event]:
    """The events of one record (`index`: its place in `data`, None for a bare record), or SyncError."""
    prefix = "" if index is None else f"data[{index}]."
    if not isinstance(record, dict):
        raise SyncError([Violation(prefix.rstrip("."), f"must be a {SNAPSHOT} or {PROGRESS} record (an object)")])
    return mapper(record, source, pseudonym, prefix)


def envelope_events(body: object, source: Source, pseudonym: Callable[[object], str]) -> list[Event]:
    """Every event of a sync request, or SyncError naming every problem of every record."""
    mapper, data = envelope(body)
    errors: list[Violation] = []
    events: list[Event] = []
    for i, record in enumerate(data):
        try:
            events += record_events(mapper, i, record, source, pseudonym)
        except SyncError as error:
            errors += error.violations
    if errors:
        raise SyncError(errors)
    return events


#: The fields of a sync record its DLQ copy keeps (codes and times; the two identifiers as HMACs).
DLQ_FIELDS = (
    "MaHoSo", "MaTTHC", "MaLinhVuc", "KenhThucHien", "TrangThaiHoSo", "TrangThai", "LoaiDoiTuong", "HinhThuc",
    "HoSoCoThanhPhanSoHoa", "DuocThanhToanTrucTuyen", "NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayTuChoi",
    "NgayKetThucXuLy", "NgayTra", "ThoiDiemXuLy", "DonViXuLy", "PhongBanXuLy", "SoGiayToChuHoSo", "NguoiXuLy",
)  # fmt: skip


def quarantined(record: object, pseudonym: Callable[[object], str]) -> Quarantined:
    """The scrubbed DLQ copy of a refused sync record (producers.edge: allowlist, identifiers as HMACs)."""
    if not isinstance(record, dict):
        return UNREADABLE
    kept, dropped = shaped(record, {}, DLQ_FIELDS)
    kept = {k: v for k, v in kept.items() if not isinstance(v, dict | list)}
    dropped += len(record) - dropped - len(kept)
    changed = pseudonymised(kept, pseudonym, ("SoGiayToChuHoSo", "NguoiXuLy"))
    return quarantine(kept, dropped, pseudonym, changed, "MaHoSo")


def refusal(record: object, violations: list[Violation], pseudonym: Callable[[object], str]) -> Refused:
    """A sync record (or request) that could not be mapped, for dossier.dlq."""
    return Refused(quarantined(record, pseudonym), "validate", redacted_reason(violations))
