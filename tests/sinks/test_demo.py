"""`motcua demo` on the running local stack, piped: the whole pipeline lands data, the demo prints plain lines
(no terminal), and Ctrl-C stops everything it started, even when the pipe's reader is gone (`| tee`)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from clickhouse_driver import Client
from kafka import KafkaAdminClient

from tests.sinks.pipeline import MOTCUA, wait_until
from tests.streams.harness import alive

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def test_the_piped_demo_prints_plain_lines_and_ctrl_c_stops_what_it_started(kafka_bootstrap: str, ch: Client,
                                                                            unique_name: str,
                                                                            tmp_path: Path) -> None:
    prefix = f"{unique_name}."
    command = [MOTCUA, "demo", "--topic-prefix", prefix, "--database", unique_name, "--provinces", "1",
               "--history", "2", "--speedup", "3000"]
    errors = tmp_path / "demo-stderr.log"
    with errors.open("wb") as err:
        demo = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, env={**os.environ, "COLUMNS": "160"})
    assert demo.stdout is not None
    lines: list[str] = []

    def landed() -> tuple[int, int, int]:
        """Events, transitions, and the province day rows the view shows."""
        try:
            return tuple(ch.execute(
                f"SELECT (SELECT count() FROM {unique_name}.events_unique), (SELECT count() FROM {unique_name}.kpis"
                f" WHERE scope = 'province' AND period = 'day'), (SELECT count() FROM {unique_name}.transitions)"
            )[0])
        except Exception:  # not migrated yet
            return (0, 0, 0)

    def a_province_line() -> bool:
        lines.append(demo.stdout.readline().decode())  # type: ignore[union-attr]
        return lines[-1].startswith("  province 01: to process")

    try:
        wait_until("events, transitions and province day KPI rows in ClickHouse",
                   lambda: min(landed()) > 0 and landed()[0] > 1000, timeout=120, every=1.0)
        wait_until("a plain line of province 01", a_province_line, timeout=30, every=0.0)
        pids = [int(p) for p in re.findall(r"(?:streams worker|sink) pid (\d+)", errors.read_text())]
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
        assert any(line.startswith(("replaying history: simulated 20", "live day: simulated 20")) for line in lines)
        screen = re.search(r"(http://127\.0\.0\.1:\d+)/d/motcua-province", errors.read_text())
        assert screen, errors.read_text()
        with urllib.request.urlopen(f"{screen.group(1)}/api/search", timeout=10) as answer:
            assert len(json.load(answer)) == 5  # the dashboards, served by the demo's `motcua screen`
        demo.stdout.close()  # what `| tee` does when Ctrl-C reaches it as well
        demo.send_signal(signal.SIGINT)  # what Ctrl-C sends
        demo.wait(timeout=90)
        stderr = errors.read_text()
        assert demo.returncode == 0, stderr
        assert "sink: stopped (exit 0" in stderr and "streams: stopped (exit 0" in stderr, stderr
        assert "screen: stopped (exit 0" in stderr, stderr
        assert "simulator:" in stderr and "events sent" in stderr, stderr
        time.sleep(1)
        assert not any(alive(pid) for pid in pids)
    finally:
        if demo.poll() is None:
            demo.kill()
        ch.execute(f"DROP DATABASE IF EXISTS {unique_name}")
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        try:
            admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])
        finally:
            admin.close()
