"""`motcua demo` on the running local stack: the whole pipeline lands data, and Ctrl-C-like stop is clean."""

from __future__ import annotations

import os
import subprocess

import pytest
from clickhouse_driver import Client
from kafka import KafkaAdminClient

from tests.sinks.pipeline import MOTCUA

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def test_the_demo_runs_the_pipeline_and_stops_what_it_started(kafka_bootstrap: str, ch: Client,
                                                               unique_name: str) -> None:
    prefix = f"{unique_name}."
    command = [MOTCUA, "demo", "--topic-prefix", prefix, "--database", unique_name, "--provinces", "1",
               "--history", "2", "--speedup", "3000", "--top-seconds", "35"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=200, env={**os.environ, "COLUMNS": "160"},
                              check=False)
        stderr = done.stderr.decode()
        assert done.returncode == 0, stderr
        assert "sink: stopped (exit 0" in stderr and "streams: stopped (exit 0" in stderr, stderr
        assert "simulator:" in stderr and "events sent" in stderr, stderr
        events, kpis, transitions = ch.execute(
            f"SELECT (SELECT count() FROM {unique_name}.events_unique), (SELECT count() FROM {unique_name}.kpis), "
            f"(SELECT count() FROM {unique_name}.transitions)"
        )[0]
        assert events > 1000 and transitions > 100 and kpis > 10, (events, kpis, transitions)
        assert "Provinces, today" in done.stdout.decode()
    finally:
        ch.execute(f"DROP DATABASE IF EXISTS {unique_name}")
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        try:
            admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])
        finally:
            admin.close()
