"""Issue 14's edge faults, on the real stack: each fault as it was found, now refused and kept in the DLQ."""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from datetime import date
from pathlib import Path

import orjson
import pytest
from clickhouse_driver import Client
from typer.testing import CliRunner

from motcua.cli import app
from producers.ingest.app import Limits
from producers.simulator.stream import simulate
from producers.sources import hash_token
from stack.services import free_port
from tests.producers.helpers import dlq_headers_of, read_records, read_topic, snapshot
from tests.producers.ingest_harness import (
    TOKEN_04,
    TOKEN_24,
    TOKEN_79,
    Ingest,
    dlq_of,
    ingest_server,
    serve_process,
)  # fmt: skip
from tests.sinks.pipeline import SinkProcess, create_topics, fresh_database
from wire.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration

EVENTS = [orjson.loads(e.value) for e in simulate(13, ["04"], date(2025, 7, 7), date(2025, 7, 9))]
ACCEPTED = next(e for e in EVENTS if e["type"] == "accepted")
# Planted personal values (issue 14 item 2): the test greps the bytes for these, never for keys.
CCCD, PHONE, NAME, NOTE, BIRTH = (
    "079012345678",
    "0912345678",
    "Nguyễn Thị Hồng Nhung",
    "khách khó tính, hay gọi",
    "17/05/1990",
)
PLANTED = (CCCD, PHONE, NAME, NOTE, BIRTH)


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_a_token_cannot_write_another_province_s_dossier(topic: str, bootstrap: str) -> None:
    """The probe of item 1: mc-79 withdrew a province-01 dossier with `province: 79`; now 403, nothing produced."""
    probe = ACCEPTED | {"type": "withdrawn", "dossier_id": "000.00.00.H01-250701-0007", "source": "sim-79",
                        "province": "79", "unit": "000.00.00.H79", "receiving_unit": "000.00.00.H79"}  # fmt: skip
    foreign_unit = probe | {"dossier_id": "000.00.00.H79-250701-0007", "unit": "000.00.01.H01"}
    sync_other = {"service": "DongBoHoSoMC", "data": [snapshot(MaHoSo="000.00.01.H01-250702-0012")]}
    merged = ACCEPTED | {"source": "sim-24", "province": "24", "unit": "000.00.01.H27",
                         "receiving_unit": "000.00.00.H24", "dossier_id": "000.00.01.H27-250612-0001"}  # fmt: skip
    with ingest_server(topic, bootstrap) as api:
        for body, token, path, field in ((probe, TOKEN_79, "/v1/events", "dossier_id"),
                                         (foreign_unit, TOKEN_79, "/v1/events", "unit"),
                                         (sync_other, TOKEN_04, "/v1/sync", "dossier_id")):  # fmt: skip
            reply = api.post(path, orjson.dumps(body), token=token)
            assert reply.status == 403, reply.body
            assert field in {p["field"] for p in reply.json()["problems"]}
        assert read_topic(bootstrap, topic) == []
        assert api.post("/v1/events", orjson.dumps(merged), token=TOKEN_24).status == 202  # Bắc Ninh's old code 27
    assert [orjson.loads(v)["dossier_id"] for _, _, v in read_topic(bootstrap, topic)] == [merged["dossier_id"]]
    dlq = read_records(bootstrap, dlq_of(topic))
    assert len(dlq) == 2 + 7  # the two events and the snapshot's seven
    headers = [dlq_headers_of(r) for r in dlq]
    assert {h["stage"] for h in headers} == {"authorize"} and {h["source"] for h in headers} == {"ingest"}
    assert {h["sender"] for h in headers} == {"sim-79", "sim-04"} and "topic" not in headers[0]
    assert "dossier_id: is a dossier of province 01" in headers[0]["reason"] and headers[0]["at"].endswith("+07:00")
    assert dlq[0].key == probe["dossier_id"].encode()


def test_malformed_bodies_get_4xx_never_500(topic: str, bootstrap: str) -> None:
    """Items 4 and 6: deep JSON anywhere, wrong `service` types, other Content-Types, NUL and control characters."""
    event = orjson.dumps(ACCEPTED)[:-1]
    sync = orjson.dumps({"service": "DongBoHoSoMC", "data": [snapshot()]})[:-1]
    with ingest_server(topic, bootstrap) as api:
        for depth in (255, 260, 1000, 5000, 100_000):
            bodies = {
                "/v1/events": [nested(depth), event + b',"x":' + nested(depth) + b"}",
                               event + b',"applicant":{"kind":' + nested(depth) + b"}}", b"[" + nested(depth) + b"]"],
                "/v1/sync": [nested(depth), sync + b',"service":' + nested(depth) + b"}",
                             sync[:-2] + b',"x":' + nested(depth) + b"}]}"],
            }  # fmt: skip
            for path, variants in bodies.items():
                for n, body in enumerate(variants):
                    reply = api.post(path, body)
                    dropped = n == {"/v1/events": 1, "/v1/sync": 2}[path]  # an unknown field: dropped unread
                    assert reply.status in ((202, 400) if dropped else (400, 422)), (path, depth, reply.body[:300])
        for service in ({}, [None, None], 1, True, None, "x" * 10_000):
            body = orjson.dumps({"service": service, "isUpdating": False, "data": [snapshot()]})
            assert api.post("/v1/sync", body).status == 422, service
        for data in ({}, [None], [[]], "x", [1, 2]):
            assert api.post("/v1/sync", orjson.dumps({"service": "DongBoHoSoMC", "data": data})).status == 422, data
        for content_type in ("text/plain", "application/xml", "multipart/form-data", "application/octet-stream"):
            assert api.post("/v1/events", orjson.dumps(ACCEPTED), content_type=content_type).status == 415
        assert api.post("/v1/sync", sync + b"}", content_type="text/csv").status == 415
        assert (
            api.post("/v1/events", orjson.dumps(ACCEPTED), content_type="application/json; charset=utf-8").status == 202
        )
        for name, value in (("dossier_id", "000.00.00.H04-250707\x00-0001"), ("event_id", "e\x01"),
                            ("unit", "000.00.00.H04\n"), ("procedure_code", "1.0\x7f")):  # fmt: skip
            reply = api.post("/v1/events", orjson.dumps(ACCEPTED | {name: value}))
            assert reply.status == 422 and name in {p["field"] for p in reply.json()["problems"]}
        assert api.get("/healthz").status == 200
    stored = {orjson.loads(v)["dossier_id"] for _, _, v in read_topic(bootstrap, topic)}
    assert stored == {ACCEPTED["dossier_id"], snapshot()["MaHoSo"]}


def test_event_time_is_bounded_at_the_api(topic: str, bootstrap: str) -> None:
    """Item 3: an event dated 2099 (which blew up a worker) and one dated 1990 are refused and kept."""
    with ingest_server(topic, bootstrap) as api:
        for when in ("2099-01-01T08:00:00+07:00", "1990-01-01T08:00:00+07:00"):
            reply = api.post("/v1/events", orjson.dumps(ACCEPTED | {"occurred_at": when}))
            assert reply.status == 422 and "occurred_at" in {p["field"] for p in reply.json()["problems"]}
    assert read_topic(bootstrap, topic) == []
    reasons = [dlq_headers_of(r)["reason"] for r in read_records(bootstrap, dlq_of(topic))]
    assert len(reasons) == 2 and all("occurred_at" in r for r in reasons)


def test_healthz_stays_fast_while_10000_invalid_events_are_validated(
    topic: str, bootstrap: str, tmp_path: Path, hmac_key: str
) -> None:
    """Item 5, with a real server process and real HTTP: the batch is validated off the event loop."""
    sources = tmp_path / "sources.json"
    entry = {"id": "sim-04", "province": "04", "token_sha256": hash_token(TOKEN_04), "default_unit": "000.00.00.H04"}
    sources.write_bytes(orjson.dumps({"sources": [entry]}))
    ensure_topics(bootstrap, 1, (TopicSpec(dlq_of(topic), 1),))
    port, log = free_port(), tmp_path / "ingest.log"
    server = serve_process(port, topic, sources, log, "--dlq-topic", dlq_of(topic), "--source-burst", "5000",
                            "--source-rate", "100")  # the 10,000 records leave a debt of 50 s, not 0.25 s
    invalid = [{k: v for k, v in e.items() if k != "type"} | {"event_id": f"bad-{i}"} for i, e in
               zip(range(10_000), EVENTS * 100, strict=False)]  # fmt: skip
    body = b"\n".join(orjson.dumps(e) for e in invalid)
    replies: list[tuple[int, dict]] = []

    def post() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", "/v1/events", body, {"Authorization": f"Bearer {TOKEN_04}",
                                                   "Content-Type": "application/x-ndjson"})  # fmt: skip
        response = conn.getresponse()
        replies.append((response.status, orjson.loads(response.read())))

    latencies: list[float] = []
    try:
        poster = threading.Thread(target=post)
        started = time.monotonic()
        poster.start()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while poster.is_alive():
            t0 = time.perf_counter()
            conn.request("GET", "/healthz")
            assert conn.getresponse().read()
            latencies.append(time.perf_counter() - t0)
            time.sleep(0.01)
        poster.join()
        took = time.monotonic() - started
        rate_limited = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        rate_limited.request("POST", "/v1/events", orjson.dumps(ACCEPTED),
                             {"Authorization": f"Bearer {TOKEN_04}", "Content-Type": "application/json"})  # fmt: skip
        limited = rate_limited.getresponse()
        limited.read()
    finally:
        server.terminate()
        server.wait(30)
    [(status, reply)] = replies
    assert status == 422 and len(reply["problems"]) == 100 and reply["more_problems"] == 9_900
    assert limited.status == 429 and int(limited.getheader("Retry-After")) >= 1  # 10,000 records > the burst
    p95 = statistics.quantiles(latencies, n=20)[-1]
    median = statistics.median(latencies)
    print(f"batch validated in {took:.1f} s; /healthz x{len(latencies)}: median {median * 1000:.1f} ms, "
          f"p95 {p95 * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")  # fmt: skip
    assert len(latencies) >= 10 and p95 < 0.1, latencies


def test_rate_limit_per_source(topic: str, bootstrap: str) -> None:
    with ingest_server(topic, bootstrap, Limits(source_rate=1, source_burst=3)) as api:
        assert api.post("/v1/events", b"\n".join(orjson.dumps(e) for e in EVENTS[:5])).status == 202
        reply = api.post("/v1/events", orjson.dumps(EVENTS[5]))
        assert reply.status == 429 and int(reply.headers["Retry-After"]) >= 2
        assert api.post("/v1/events", orjson.dumps(EVENTS[5] | {"source": "sim-79"}), token=TOKEN_79).status == 403


def test_the_importer_survives_any_line_and_keeps_what_it_refuses(topic: str, bootstrap: str, tmp_path: Path) -> None:
    """Item 9: a deep line, garbage first, 2099 and 1990: each refused with its line, the rest produced."""
    dlq = dlq_of(topic)
    ensure_topics(bootstrap, 1, (TopicSpec(dlq, 1),))
    good = [orjson.dumps(e) for e in EVENTS[:5]]
    lines = [b"garbage \xff first line", nested(300), nested(100_000), good[0], b'{"schema": 1}', good[1],
             orjson.dumps(ACCEPTED | {"occurred_at": "2099-01-01T08:00:00+07:00", "event_id": "future"}),
             orjson.dumps(ACCEPTED | {"occurred_at": "1990-01-01T08:00:00+07:00", "event_id": "past"}),
             b"[" + nested(1000) + b"]", *good[2:]]  # fmt: skip
    file = tmp_path / "events.jsonl"
    file.write_bytes(b"\n".join(lines) + b"\n")
    result = CliRunner().invoke(app, ["produce", "import", str(file), "--topic", topic, "--dlq-topic", dlq])
    assert result.exit_code == 1, result.output
    for n in (1, 2, 3, 5, 7, 8, 9):
        assert f"line {n}: " in result.output
    assert "imported 5 events (7 line(s) rejected)" in result.output
    assert sorted(v for _, _, v in read_topic(bootstrap, topic)) == sorted(good)
    refused = read_records(bootstrap, dlq)
    assert len(refused) == 7 and {dlq_headers_of(r)["source"] for r in refused} == {"importer"}
    assert [dlq_headers_of(r)["stage"] for r in refused] == ["parse", "validate", "parse", "validate", "validate",
                                                            "validate", "validate"]  # fmt: skip
    assert all(len(r.value) < 2000 for r in refused)


def test_a_sync_import_is_bound_to_its_source_s_province(topic: str, bootstrap: str, tmp_path: Path) -> None:
    dlq = dlq_of(topic)
    ensure_topics(bootstrap, 1, (TopicSpec(dlq, 1),))
    export = tmp_path / "export.jsonl"
    export.write_bytes(b"\n".join([b"{oops", orjson.dumps(snapshot(MaHoSo="000.00.01.H79-250702-0012")),
                                   orjson.dumps(snapshot())]))  # fmt: skip
    args = ["produce", "import", str(export), "--source", "mc-04", "--province", "04", "--topic", topic]
    result = CliRunner().invoke(app, [*args, "--default-unit", "000.00.01.H04", "--dlq-topic", dlq])
    assert "imported 7 events (8 line(s) rejected)" in result.output, result.output  # 1 + the foreign snapshot's 7
    assert {dlq_headers_of(r)["stage"] for r in read_records(bootstrap, dlq)} == {"parse", "authorize"}


def test_no_planted_personal_value_reaches_kafka_the_dlq_clickhouse_or_the_log(
    bootstrap: str, unique_name: str, tmp_path: Path, hmac_key: str, ch: Client
) -> None:
    """Item 2 / DOMAIN.md section 6: planted values in extra keys, in applicant.id_hash and in officer, sent
    through both endpoints and the importer; then every byte of every topic, of every ClickHouse table the
    sink filled from them, of the server's log and of the importer's output is grepped."""
    prefix = f"{unique_name}."
    topic, dlq = f"{prefix}dossier.events", f"{prefix}dossier.dlq"
    create_topics(bootstrap, prefix)
    sources = tmp_path / "sources.json"
    entry = {"id": "sim-04", "province": "04", "token_sha256": hash_token(TOKEN_04), "default_unit": "000.00.00.H04"}
    sources.write_bytes(orjson.dumps({"sources": [entry]}))
    extras = {"sdt": PHONE, "so_cccd": CCCD, "ngay_sinh": BIRTH, "Họ tên": NAME, "SĐT": PHONE, "note": NOTE,
              "nested": {"deep": [{"cccd": CCCD, "ten": NAME}]}}  # fmt: skip
    kept = [e | extras | {"officer": NAME} for e in EVENTS[:3]]  # accepted: extras dropped, officer hashed
    refused = [EVENTS[3] | extras | {"applicant": {"kind": 1, "id_hash": CCCD}},  # a raw CCCD as id_hash
               EVENTS[4] | extras | {"officer": PHONE},  # a phone as officer
               EVENTS[5] | extras | {"event_id": NAME, "procedure_field": NOTE},  # names in codes
               EVENTS[6] | extras | {"occurred_at": "2099-01-01T08:00:00+07:00", "officer": NAME}]  # fmt: skip
    sync = {"service": "DongBoHoSoMC", "data": [snapshot(ChuHoSo=NAME, SoGiayToChuHoSo=CCCD, SoDienThoai=PHONE,
                                                         GhiChu=NOTE, NgaySinh=BIRTH)]}  # fmt: skip
    sync_bad = {"service": "DongBoHoSoMC", "data": [snapshot(ChuHoSo=NAME, SoGiayToChuHoSo=CCCD, NgayTiepNhan=NAME)]}
    step = {"MaHoSo": "000.00.01.H04-250703-0009", "MaTTHC": "2.000488", "NguoiXuLy": NAME, "TrangThai": 4,
            "ThoiDiemXuLy": "20250703101500", "DonViXuLy": "Sở Tư pháp", "NoiDungXuLy": NOTE}  # fmt: skip
    port, log = free_port(), tmp_path / "ingest.log"
    server = serve_process(port, topic, sources, log, "--dlq-topic", dlq)
    try:
        api = Ingest(port)
        assert api.post("/v1/events", b"\n".join(map(orjson.dumps, kept))).status == 202
        for event in refused:
            reply = api.post("/v1/events", orjson.dumps(event))
            assert reply.status == 422, reply.body
        assert api.post("/v1/sync", orjson.dumps(sync)).status == 202
        assert api.post("/v1/sync", orjson.dumps(sync_bad)).status == 422
        assert api.post("/v1/sync", orjson.dumps({"service": "CapNhatTienDoHoSoMC", "data": [step]})).status == 202
        time.sleep(1)  # DLQ copies are sent without waiting for them
    finally:
        server.terminate()
        server.wait(30)
    file = tmp_path / "planted.jsonl"
    file.write_bytes(b"\n".join(map(orjson.dumps, [*kept, *refused])) + b"\n" + NAME.encode() + b" " + PHONE.encode())
    result = CliRunner().invoke(app, ["produce", "import", str(file), "--topic", topic, "--dlq-topic", dlq])
    assert "imported 3 events (5 line(s) rejected)" in result.output, result.output
    events, kept_in_dlq = read_records(bootstrap, topic), read_records(bootstrap, dlq)
    assert len(events) == 3 + 7 + 1 + 3 and len(kept_in_dlq) == 4 + 1 + 5
    database = fresh_database(ch, unique_name)
    sink = SinkProcess(prefix, database, "--batch-seconds", "0.2")
    try:
        sink.wait_for_records(len(events) + len(kept_in_dlq), timeout=120)
    finally:
        assert sink.stop() == 0
    tables = [name for (name,) in ch.execute(f"SHOW TABLES FROM {database}")]
    rows = [row for table in tables for row in ch.execute(f"SELECT * FROM {database}.{table}")]
    assert ch.execute(f"SELECT count() FROM {database}.dlq")[0][0] == len(kept_in_dlq)
    stored = "\n".join(c.decode("utf-8", "replace") if isinstance(c, bytes) else str(c) for row in rows for c in row)
    everything = b"\n".join([*(r.value for r in events + kept_in_dlq), *(r.key or b"" for r in events + kept_in_dlq),
                             *(v for r in events + kept_in_dlq for _, v in r.headers),
                             log.read_bytes(), result.output.encode(), stored.encode()])  # fmt: skip
    for planted in (*PLANTED, CCCD[1:], PHONE[1:], "Nguyễn", "Nhung"):
        assert planted.encode() not in everything, planted
    assert {dlq_headers_of(r)["source"] for r in kept_in_dlq} == {"ingest", "importer"}
    ch.execute(f"DROP DATABASE IF EXISTS {database}")  # kept when an assertion failed, to look into
