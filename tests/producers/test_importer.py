"""Importing event files and one-stop exports (sync JSON lines, CSV): pure mapping, line-exact errors."""

from __future__ import annotations

import csv
import io
import time
from datetime import date
from pathlib import Path

import orjson
from typer.testing import CliRunner

from motcua.cli import app
from producers.edge import Bounds
from producers.importer import Edge, Rejected, csv_file_items, event_file_items, infer_format, sync_file_items
from producers.pseudonym import Pseudonymiser
from producers.simulator.stream import simulate
from producers.sources import Source
from tests.producers.helpers import snapshot

PSEUDONYM = Pseudonymiser(b"k" * 32)
SOURCE = Source(id="mc-04", province="04", units={"Sở Tư pháp": "000.00.01.H04"})
EDGE = Edge(PSEUDONYM, Bounds(), time.time())
BOUND = Edge(PSEUDONYM, Bounds(), time.time(), SOURCE.grant)


def test_an_events_file_is_kept_byte_for_byte_and_bad_lines_are_reported() -> None:
    lines = [e.value for e in simulate(3, ["04"], date(2025, 7, 7), date(2025, 7, 9), tick_every=3600)]
    events = [v for v in lines if b"clock-tick" not in v]
    bad = [b"{not json", b'{"schema":"dossier-event/1","type":"accepted"}', b"[1]", b""]
    items = list(event_file_items([*lines, *bad], EDGE))
    records = [i for i in items if not isinstance(i, Rejected)]
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert [v for _, v in records] == events
    assert all(k == orjson.loads(v)["dossier_id"].encode() for k, v in records)
    assert [r.line for r in rejected] == [len(lines) + 1, len(lines) + 2, len(lines) + 3]
    assert "dossier_id" in str(rejected[1])


def test_an_events_file_keeps_only_the_contract_fields_and_pseudonyms() -> None:
    [event] = [e.value for e in simulate(3, ["04"], date(2025, 7, 7), date(2025, 7, 8))][:1]
    raw = orjson.loads(event)
    raw["applicant"] = {"kind": 1, "id": "079123456789", "id_hash": "B-1234567"}
    raw["phone"] = "0912345678"
    raw["officer"] = "Trần Thị B"
    [(_key, value)] = list(event_file_items([orjson.dumps(raw)], EDGE))
    assert b"079123456789" not in value and b"0912345678" not in value and "Trần".encode() not in value
    stored = orjson.loads(value)
    assert stored["applicant"] == {"kind": 1, "id_hash": PSEUDONYM("B-1234567")} and "phone" not in stored
    assert stored["officer"] == PSEUDONYM("Trần Thị B")


def test_sync_json_lines_accept_bare_records_and_whole_requests() -> None:
    lines = [
        orjson.dumps(snapshot()),
        orjson.dumps({"service": "DongBoHoSoMC", "data": [snapshot(MaHoSo="000.00.01.H04-250702-0002")]}),
        orjson.dumps(snapshot(NgayTiepNhan="nope")),
    ]
    items = list(sync_file_items(lines, SOURCE, BOUND))
    keys = [i[0] for i in items if not isinstance(i, Rejected)]
    assert keys.count(b"000.00.01.H04-250702-0012") == 7 and keys.count(b"000.00.01.H04-250702-0002") == 7
    [rejected] = [i for i in items if isinstance(i, Rejected)]
    assert rejected.line == 3 and rejected.violations[0].field == "NgayTiepNhan"


def test_csv_export_with_json_list_columns() -> None:
    record = snapshot()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(record))
    writer.writeheader()
    for row in (
        record,
        {**record, "MaHoSo": "000.00.01.H04-250702-0003", "TrangThaiHoSo": "2"},
        {**record, "DanhSachLePhi": "[oops"},
    ):
        writer.writerow({k: orjson.dumps(v).decode() if isinstance(v, list) else v for k, v in row.items()})
    items = list(csv_file_items(out.getvalue(), SOURCE, BOUND))
    good = [i for i in items if not isinstance(i, Rejected)]
    assert [orjson.loads(v)["type"] for k, v in good if k == b"000.00.01.H04-250702-0003"] == [
        "submitted", "accepted", "supplement_requested", "supplement_received", "payment_completed",
    ]  # fmt: skip
    assert len([k for k, _ in good if k != b"000.00.01.H04-250702-0003"]) == 7
    [rejected] = [i for i in items if isinstance(i, Rejected)]
    assert rejected.line == 4 and rejected.violations[0].field == "DanhSachLePhi"
    assert b"004123456789" not in b"".join(v for _, v in good)


def test_import_command_writes_events_and_reports_bad_lines(tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    export.write_bytes(orjson.dumps(snapshot()) + b"\n" + orjson.dumps(snapshot(MaTTHC="")) + b"\n")
    out = tmp_path / "events.jsonl"
    args = ["produce", "import", str(export), "--source", "mc-04", "--province", "04"]  # format guessed: sync
    result = CliRunner().invoke(app, [*args, "--default-unit", "000.00.01.H04", "--to-file", str(out)])
    assert result.exit_code == 1
    assert "line 2: MaTTHC: required" in result.output and "imported 7 events (1 line(s) rejected)" in result.output
    assert len(out.read_bytes().splitlines()) == 7


def test_the_format_is_guessed_from_the_file() -> None:
    event = next(e.value for e in simulate(3, ["04"], date(2025, 7, 7), date(2025, 7, 8)))
    assert infer_format("x.jsonl", [b"", event]) == "events"
    assert infer_format("x.jsonl", [b'{"schema":"clock-tick/1","at":"2025-07-07T08:00:00+07:00"}']) == "events"
    assert infer_format("export.jsonl", [orjson.dumps(snapshot())]) == "sync"
    assert infer_format("export.CSV", [b"MaHoSo,MaTTHC"]) == "csv"
    garbage_first = [b"\xff garbage", b"[" * 5000 + b"]" * 5000, b"[1]", b'{"note": 1}', event]
    assert infer_format("x.jsonl", garbage_first) == "events"  # not decided by unparseable or unknown lines
