"""`motcua demo` on the running local stack: the whole pipeline lands data, and Ctrl-C stops what it started."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from clickhouse_driver import Client
from kafka import KafkaAdminClient

from tests.sinks.pipeline import MOTCUA, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def test_the_demo_runs_the_pipeline_and_ctrl_c_stops_what_it_started(kafka_bootstrap: str, ch: Client,
                                                                      unique_name: str) -> None:
    prefix = f"{unique_name}."
    command = [MOTCUA, "demo", "--topic-prefix", prefix, "--database", unique_name, "--provinces", "1",
               "--history", "2", "--speedup", "3000"]
    demo = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "COLUMNS": "160"})

    def landed() -> tuple[int, int, int]:
        """Events, transitions, and the province day rows the live view shows."""
        try:
            return tuple(ch.execute(
                f"SELECT (SELECT count() FROM {unique_name}.events_unique), (SELECT count() FROM {unique_name}.kpis"
                f" WHERE scope = 'province' AND period = 'day'), (SELECT count() FROM {unique_name}.transitions)"
            )[0])
        except Exception:  # not migrated yet
            return (0, 0, 0)

    try:
        wait_until("events, transitions and province day KPI rows in ClickHouse",
                   lambda: min(landed()) > 0 and landed()[0] > 1000, timeout=120, every=1.0)
        time.sleep(3)  # the live view refreshes every second: let it show them before Ctrl-C
        demo.send_signal(signal.SIGINT)  # what Ctrl-C sends
        stdout, stderr = (out.decode() for out in demo.communicate(timeout=90))
        assert demo.returncode == 0, stderr
        assert "sink: stopped (exit 0" in stderr and "streams: stopped (exit 0" in stderr, stderr
        assert "simulator:" in stderr and "events sent" in stderr, stderr
        assert "Provinces, today" in stdout
    finally:
        if demo.poll() is None:
            demo.kill()
        ch.execute(f"DROP DATABASE IF EXISTS {unique_name}")
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        try:
            admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])
        finally:
            admin.close()
