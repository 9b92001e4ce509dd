"""`motcua replay` on the real Kafka: the rows `motcua kpi --events` prints for the same events, byte for byte."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from audit.kafka_range import parse_offsets
from dossier.calendar import day_number, day_start
from tests.audit.conftest import Log, motcua
from tests.streams.harness import read_topic
from wire.groups import group_offsets, group_states

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROWS = ["--period", "month", "--from", "2025-06-01", "--to", "2025-08-01"]


def kpi(file: Path, *args: str) -> bytes:
    return motcua("kpi", "--events", str(file), *args).stdout


def replay(log: Log, *args: str) -> bytes:
    return motcua("replay", "--topic-prefix", log.prefix, "--no-progress", *args).stdout


@pytest.mark.parametrize(
    "args",
    [
        [*ROWS, "--scope", "unit"],
        ["--period", "day", "--from", "2025-06-20", "--to", "2025-07-05", "--scope", "procedure", "--workers", "2"],
        [*ROWS, "--scope", "province", "--hierarchy", "2025", "--workers", "3"],
    ],
    ids=["month-unit", "day-procedure-2-workers", "province-2025-3-workers"],
)
def test_the_whole_log_replays_as_the_file_audits(log: Log, args: list[str]) -> None:
    expected = kpi(log.file, *[a for a in args if a not in ("--workers", "2", "3")])
    assert expected.count(b"\n") >= 2
    assert replay(log, *args, "--log-until", "end") == expected


def test_the_range_ends_at_the_first_record_appended_at_or_after_to(log: Log, tmp_path: Path) -> None:
    """Mid-month: the June row as the log stood on 2025-06-25, not as it stands now."""
    args = ["--period", "month", "--from", "2025-06-01", "--to", "2025-06-25", "--scope", "province"]
    done = motcua("replay", "--topic-prefix", log.prefix, "--no-progress", *args)
    until_ms = int(day_start(day_number(date(2025, 6, 25))) * 1000)
    assert done.stdout == kpi(log.file_until(tmp_path, until_ms), *args)
    assert b"later records not read" in done.stderr
    assert done.stdout != kpi(log.file, *args)


def test_offsets_restrict_the_replay_to_those_records(log: Log, tmp_path: Path, kafka_bootstrap: str) -> None:
    ranges = "0:10-400,3:0-,5:100-101"
    wanted = parse_offsets(ranges)
    records = [r for r in read_topic(kafka_bootstrap, log.topics.events) if r.partition in wanted
               and wanted[r.partition][0] <= r.offset < (wanted[r.partition][1] or 1 << 62)]
    file = tmp_path / "range.jsonl"
    file.write_bytes(b"".join(r.value + b"\n" for r in sorted(records, key=lambda r: (r.partition, r.offset))))
    assert replay(log, *ROWS, "--scope", "unit", "--log-until", "end", "--offsets", ranges) == kpi(file, *ROWS,
                                                                                                  "--scope", "unit")
    bad = motcua("replay", "--topic-prefix", log.prefix, *ROWS, "--offsets", "0:5-2", check=False)
    assert bad.returncode == 2 and b"--offsets" in bad.stderr


def _groups_and_offsets(bootstrap: str, topic: str) -> dict[str, dict[tuple[str, int], int]]:
    return {g: {(tp.topic, tp.partition): meta.offset for tp, meta in group_offsets(bootstrap, g).items()
                if tp.topic == topic} for g in group_states(bootstrap)}


def test_a_replay_moves_no_live_offset_and_joins_no_group(log: Log, kafka_bootstrap: str) -> None:
    live = KafkaConsumer(log.topics.events, bootstrap_servers=kafka_bootstrap, group_id=f"{log.prefix}live",
                         enable_auto_commit=False, auto_offset_reset="earliest", consumer_timeout_ms=3000)
    try:
        while not live.assignment():
            live.poll(timeout_ms=500, max_records=1)
        live.commit({TopicPartition(log.topics.events, p): _meta(p * 3) for p in range(6)})
    finally:
        live.close()
    before = _groups_and_offsets(kafka_bootstrap, log.topics.events)
    assert before[f"{log.prefix}live"] == {(log.topics.events, p): p * 3 for p in range(6)}
    replay(log, *ROWS, "--log-until", "end", "--workers", "2")
    replay(log, *ROWS, "--log-until", "end", "--print", "transitions")
    assert _groups_and_offsets(kafka_bootstrap, log.topics.events) == before


def _meta(offset: int) -> object:
    from kafka.structs import OffsetAndMetadata

    return OffsetAndMetadata(offset, "", -1)


def test_transitions_and_alerts_are_the_live_workers(log: Log) -> None:
    transitions = [orjson.loads(line) for line in replay(log, *ROWS, "--log-until", "end", "--print", "transitions",
                                                         "--workers", "2").splitlines()]
    alerts = [orjson.loads(line) for line in replay(log, *ROWS, "--log-until", "end", "--print", "alerts").splitlines()]
    kinds = {t["kind"] for t in transitions}
    assert {"accepted", "finished", "due_soon", "overdue"} <= kinds
    assert len({t["transition_id"] for t in transitions}) == len(transitions)
    timers = {(t["dossier_id"], t["kind"], t["at"]) for t in transitions if t["kind"] in ("due_soon", "overdue")}
    assert {(a["dossier_id"], a["kind"], a["at"]) for a in alerts} == timers


def test_the_progress_bar_shows_rate_and_lag(log: Log) -> None:
    done = motcua("replay", "--topic-prefix", log.prefix, *ROWS, "--log-until", "end", "--progress")
    assert b"events/s" in done.stderr and b"lag 0" in done.stderr
