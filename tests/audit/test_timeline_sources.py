"""`motcua dossier timeline` shows the same dossier the same way from the log, ClickHouse's archive and a file."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest

from tests.audit.conftest import Log, motcua

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

AT = "2025-07-20T00:00:00+07:00"


def _busiest(log: Log) -> str:
    events = [line for line in log.lines if line.startswith(b'{"schema":"dossier-event')]
    ids = Counter(orjson.loads(line)["dossier_id"] for line in events)
    return max(sorted(ids), key=lambda d: ids[d])


def test_the_log_the_archive_and_the_file_tell_the_same_timeline(log: Log, stored: str) -> None:
    dossier_id = _busiest(log)
    common = ["dossier", "timeline", dossier_id, "--at", AT, "--format", "json"]
    from_file = motcua(*common, "--events", str(log.file)).stdout
    from_log = motcua(*common, "--topic-prefix", log.prefix).stdout
    from_clickhouse = motcua(*common, "--source", "clickhouse", env={"MOTCUA_CLICKHOUSE_DATABASE": stored}).stdout
    assert from_log == from_file == from_clickhouse
    timeline = orjson.loads(from_log)
    assert timeline["accepted"] and len(timeline["events"]) >= 5 and timeline["due"]["due_at"]
    assert {r["scope"] for r in timeline["rows"]} >= {"province", "unit", "procedure"}
    text = motcua("dossier", "timeline", dossier_id, "--at", AT, "--topic-prefix", log.prefix).stdout.decode()
    assert f"Dossier {dossier_id}" in text and "Verdict:" in text and "KPI rows it counts in" in text


def test_an_unknown_dossier_exits_1(log: Log) -> None:
    done = motcua("dossier", "timeline", "000.00.01.H04-000000-0000", "--topic-prefix", log.prefix, check=False)
    assert done.returncode == 1 and b"no valid event" in done.stderr
