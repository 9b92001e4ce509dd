"""The simulator, the event-file import and the tick producer against the real local Kafka."""

from __future__ import annotations

import collections
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from motcua.cli import app
from producers.kafka import EventProducer
from tests.producers.helpers import read_topic

pytestmark = pytest.mark.integration
runner = CliRunner()
SIMULATE = ["produce", "simulate", "--seed", "4", "--provinces", "1", "--from", "2025-07-07", "--to", "2025-07-10"]


def run(*args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


def by_partition(records: list[tuple[int, bytes | None, bytes]]) -> dict[int, list[bytes]]:
    out: dict[int, list[bytes]] = collections.defaultdict(list)
    for partition, key, value in records:
        if key is not None:
            out[partition].append(value)
    return out


def test_simulated_events_reach_kafka_in_order_with_ticks_in_every_partition(
    topic: str, bootstrap: str, tmp_path: Path
) -> None:
    run(*SIMULATE, "--tick-every", "21600", "--topic", topic, "--no-progress")
    run(*SIMULATE, "--tick-every", "21600", "--to-file", str(tmp_path / "sim.jsonl"), "--no-progress")
    lines = (tmp_path / "sim.jsonl").read_bytes().splitlines()
    events = [v for v in lines if b"clock-tick" not in v]
    stored = read_topic(bootstrap, topic)
    producer = EventProducer(topic, bootstrap)
    expected: dict[int, list[bytes]] = collections.defaultdict(list)
    for value in events:
        expected[producer.partition_for(orjson.loads(value)["dossier_id"].encode())].append(value)
    producer.close()
    assert by_partition(stored) == expected  # same bytes, same order within each partition
    ticks = [(p, v) for p, k, v in stored if k is None]
    assert len(ticks) == 3 * (len(lines) - len(events)) > 0
    assert {p for p, _ in ticks} == {0, 1, 2}


def test_import_of_an_events_file(topic: str, bootstrap: str, tmp_path: Path) -> None:
    file = tmp_path / "events.jsonl"
    run(*SIMULATE, "--tick-every", "3600", "--to-file", str(file), "--no-progress")
    run("produce", "import", "--format", "events", str(file), "--topic", topic)
    events = [v for v in file.read_bytes().splitlines() if b"clock-tick" not in v]
    stored = read_topic(bootstrap, topic)
    assert sorted(v for _, _, v in stored) == sorted(events)
    assert all(k == orjson.loads(v)["dossier_id"].encode() for _, k, v in stored)


def test_ticks_go_to_every_partition(topic: str, bootstrap: str) -> None:
    run("produce", "ticks", "--interval", "0.1", "--count", "2", "--topic", topic)
    stored = read_topic(bootstrap, topic)
    assert sorted(p for p, _, _ in stored) == [0, 0, 1, 1, 2, 2]
    assert all(orjson.loads(v)["schema"] == "clock-tick/1" and k is None for _, k, v in stored)
