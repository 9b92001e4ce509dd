"""The ingest API against the real local Kafka: status codes, provinces, and no raw ids on Kafka."""

from __future__ import annotations

from datetime import date

import orjson
import pytest

from producers.ingest.app import Limits
from producers.kafka import DeliveryError, EventProducer
from producers.pseudonym import Pseudonymiser
from producers.simulator.stream import simulate
from tests.producers.helpers import read_topic, snapshot
from tests.producers.ingest_harness import TOKEN_79, ingest_server
from wire.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration

EVENTS = [e.value for e in simulate(11, ["04"], date(2025, 7, 7), date(2025, 7, 14))]


def test_accepted_records_are_on_kafka_keyed_by_dossier(topic: str, bootstrap: str) -> None:
    with ingest_server(topic, bootstrap) as api:
        first = api.post("/v1/events", b"\n".join(EVENTS[:300]), content_type="application/x-ndjson")
        second = api.post("/v1/events", EVENTS[300])
        assert (first.status, first.json()) == (202, {"accepted": 300})
        assert (second.status, second.json()) == (202, {"accepted": 1})
        assert api.get("/healthz").json()["kafka"] == "ok"
        assert api.get("/openapi.json").json()["openapi"] == "3.1.0"
    stored = read_topic(bootstrap, topic)
    assert sorted(v for _, _, v in stored) == sorted(orjson.dumps(orjson.loads(v)) for v in EVENTS[:301])
    assert all(k == orjson.loads(v)["dossier_id"].encode() for _, k, v in stored)


def test_bad_input_gets_4xx_and_nothing_reaches_kafka(topic: str, bootstrap: str) -> None:
    wrong_province = orjson.loads(EVENTS[0]) | {"province": "79"}
    with ingest_server(topic, bootstrap, Limits(max_body_bytes=64 * 1024)) as api:
        invalid = api.post("/v1/events", b"\n".join([EVENTS[0], orjson.dumps(wrong_province), b'{"type": 1}']))
        assert invalid.status == 403  # one record is outside the token's province: 403 wins over 422
        fields = {(p["index"], p["field"]) for p in invalid.json()["problems"]}
        assert {(1, "province"), (2, "type"), (2, "dossier_id"), (2, "schema")} <= fields
        assert api.post("/v1/events", b'{"type": 1}').status == 422
        assert api.post("/v1/events", b"{oops").status == 400
        assert api.post("/v1/events", EVENTS[0], token=None).status == 401
        assert api.post("/v1/events", EVENTS[0], token=TOKEN_79).status == 403  # a 04 event from the 79 source
        assert api.post("/v1/events", EVENTS[0], content_type="text/plain").status == 415
        assert api.post("/v1/events", b"\n".join(EVENTS[:400])).status == 413
        assert api.post("/v1/sync", orjson.dumps({"service": "X", "data": []})).status == 422
    assert read_topic(bootstrap, topic) == []


def test_overload_gets_429_with_retry_after(topic: str, bootstrap: str) -> None:
    with ingest_server(topic, bootstrap, Limits(max_pending_events=0)) as api:
        reply = api.post("/v1/events", EVENTS[0])
        assert reply.status == 429 and reply.headers["Retry-After"] == "1"


def test_kafka_refusing_the_write_gets_503_and_nothing_is_acknowledged(bootstrap: str, unique_name: str) -> None:
    ensure_topics(bootstrap, 1, (TopicSpec(unique_name, 1, {"max.message.bytes": "100"}),))
    big = orjson.loads(EVENTS[0])  # an unknown "note" would be dropped: the topic takes no record at all
    with ingest_server(unique_name, bootstrap) as api:
        reply = api.post("/v1/events", orjson.dumps(big))
        assert reply.status == 503 and reply.headers["Retry-After"] == "1"
        assert api.get("/healthz").status == 503
    with pytest.raises(DeliveryError), EventProducer(unique_name, bootstrap) as producer:
        producer.send(b"k", orjson.dumps(big))  # the wrapper surfaces the same failure, never swallows it


def test_no_raw_identifier_reaches_kafka(topic: str, bootstrap: str, hmac_key: str) -> None:
    raw_event = orjson.loads(EVENTS[0]) | {
        "applicant": {"kind": 1, "id": "079199001122", "name": "Phạm Thị D", "id_hash": "P-1234567"},
        "phone": "0987654321",
    }
    sync = {"service": "DongBoHoSoMC", "isUpdating": False, "data": [snapshot()]}
    step = {"MaHoSo": "000.00.01.H04-250703-0009", "MaTTHC": "2.000488", "NguoiXuLy": "Trần Văn Cán Bộ", "TrangThai": 4,
            "ThoiDiemXuLy": "20250703101500", "DonViXuLy": "Sở Tư pháp"}  # fmt: skip
    with ingest_server(topic, bootstrap) as api:
        assert api.post("/v1/events", orjson.dumps(raw_event)).status == 202
        assert api.post("/v1/sync", orjson.dumps(sync)).status == 202
        assert api.post("/v1/sync", orjson.dumps({"service": "CapNhatTienDoHoSoMC", "data": [step]})).status == 202
    stored = b"\n".join(v for _, _, v in read_topic(bootstrap, topic))
    assert stored.count(b"\n") == 1 + 7 + 1 - 1
    for raw in ("079199001122", "Phạm Thị D", "0987654321", "004123456789", "Nguyễn Văn An", "0912345678",
                "an.nguyen@example.vn", "Lê Lợi", "Trần Văn Cán Bộ"):  # fmt: skip
        assert raw.encode() not in stored, raw
    assert Pseudonymiser(hmac_key.encode())("P-1234567").encode() in stored  # pseudonymised at the edge
