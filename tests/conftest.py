"""Shared pytest set-up: the `integration` marker and fixtures reaching the real local stack.

Integration tests talk to the servers `motcua stack up` started (`make test` starts and stops them).
They never skip: a stack that does not answer fails them with the command that fixes it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_driver import Client

from stack import clickhouse as local_clickhouse
from stack import kafka as local_kafka
from stack import services
from wire.settings import Settings


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "integration: needs the real local Kafka and ClickHouse (`motcua stack up`; `make test` does it)"
    )


LOG_TAIL_LINES = 60


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failed test's subprocess logs (``*.log`` in its ``tmp_path`` or one level down) go into the report.

    The servers and workers such tests start log to files that pytest deletes a few runs later; in CI the
    report is all there is to read.
    """
    report = yield
    tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    if report.failed and isinstance(tmp_path, Path):
        for log in sorted([*tmp_path.glob("*.log"), *tmp_path.glob("*/*.log")]):  # not RocksDB's deeper *.log
            tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
            report.sections.append((f"last {len(tail)} lines of {log.relative_to(tmp_path)}", "\n".join(tail)))
    return report


@pytest.fixture(scope="session")
def run_id() -> str:
    """Unique per test session, so topic and table names never collide across runs or checkouts."""
    return f"{os.getpid()}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def unique_name(run_id: str, request: pytest.FixtureRequest) -> str:
    """`t_<test name>_<run id>`: safe as a Kafka topic and a ClickHouse table name."""
    base = "".join(c if c.isalnum() else "_" for c in request.node.name)[:40]
    return f"t_{base}_{run_id}"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    nodes = services.kafka_nodes(Settings().kafka_brokers)
    bootstrap = Settings().bootstrap_servers()
    if not local_kafka.cluster_answers(nodes):
        pytest.fail(f"Kafka does not answer on {bootstrap}: run `motcua stack up` (or `make test`)")
    return bootstrap


@pytest.fixture(scope="session")
def clickhouse_ready() -> dict[str, object]:
    settings = Settings().clickhouse_settings()
    if not local_clickhouse.answers():
        pytest.fail(f"ClickHouse does not answer on {settings['host']}:{settings['port']}: run `motcua stack up`")
    return settings


@pytest.fixture
def ch(clickhouse_ready: dict[str, object]) -> Iterator[Client]:
    client = Client(**clickhouse_ready)  # type: ignore[arg-type]
    yield client
    client.disconnect()
