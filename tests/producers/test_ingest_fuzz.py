"""Fuzzing the ingest body (hypothesis, real server, real Kafka): no 5xx, no crash, whatever arrives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.simulator.stream import simulate
from tests.producers.helpers import snapshot
from tests.producers.ingest_harness import Ingest, ingest_server
from wire.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration

VALID = [orjson.loads(e.value) for e in simulate(2, ["04"], date(2025, 7, 7), date(2025, 7, 8))][:30]
SYNC_KEYS = [*sorted(snapshot()), "TrangThai", "ThoiDiemXuLy", "NguoiXuLy", "PhongBanXuLy", "IsDeleted"]
OK = {202, 400, 403, 413, 422}

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def to_json(value: object) -> bytes:
    """Python's encoder: unlike orjson it writes any integer, and Infinity (invalid JSON, a good test)."""
    return json.dumps(value).encode()


digits = st.text("0123456789", min_size=0, max_size=16)


@st.composite
def mutated_event(draw: st.DrawFn) -> dict:
    event = dict(draw(st.sampled_from(VALID)))
    for key in draw(st.lists(st.sampled_from([*sorted(event), "applicant", "deadline", "phone", "x"]), max_size=3)):
        if draw(st.booleans()):
            event.pop(key, None)
        else:
            event[key] = draw(json_values)
    return event


@st.composite
def sync_request(draw: st.DrawFn) -> dict:
    records = []
    for _ in range(draw(st.integers(0, 3))):
        record = dict(snapshot())
        for key in draw(st.lists(st.sampled_from(SYNC_KEYS), max_size=5)):
            record[key] = draw(json_values | digits)
        records.append(record)
    body = {"service": draw(st.sampled_from(["DongBoHoSoMC", "CapNhatTienDoHoSoMC", "x"])), "data": records}
    if draw(st.booleans()):
        body["isUpdating"] = draw(json_values)
    return body


bodies = (
    st.binary(max_size=300)
    | json_values.map(to_json)
    | st.lists(mutated_event(), min_size=1, max_size=5).map(lambda evs: b"\n".join(map(to_json, evs)))
    | st.lists(mutated_event(), min_size=1, max_size=5).map(to_json)
    | sync_request().map(to_json)
)


@pytest.fixture(scope="module")
def api(kafka_bootstrap: str, run_id: str) -> Iterator[Ingest]:
    topic = f"t_ingest_fuzz_{run_id}"
    ensure_topics(kafka_bootstrap, 1, (TopicSpec(topic, 3),))
    mp = pytest.MonkeyPatch()
    mp.setenv("MOTCUA_HMAC_KEY", "fuzz-key-0123456789abcdef")
    with ingest_server(topic, kafka_bootstrap) as server:
        yield server
    mp.undo()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/v1/events", "/v1/sync"]), body=bodies)
def test_no_body_makes_the_server_fail(api: Ingest, path: str, body: bytes) -> None:
    reply = api.post(path, body)
    assert reply.status in OK, (reply.status, reply.body[:500])
    if reply.status in (400, 422):
        assert reply.json()["problems"]
    assert api.get("/healthz").status == 200
