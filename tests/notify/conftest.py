"""Fixtures of the notifier's integration tests: their own topics and database, and real receivers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_driver import Client
from kafka import KafkaAdminClient

from tests.notify.harness import Paging
from tests.notify.receivers import Mailbox, Webhook
from tests.sinks.pipeline import fresh_database
from wire.topics import TopicSpec, ensure_topics


@pytest.fixture
def paging(kafka_bootstrap: str, ch: Client, unique_name: str, tmp_path: Path) -> Iterator[Paging]:
    prefix = f"{unique_name}."
    ensure_topics(kafka_bootstrap, 1, (TopicSpec(f"{prefix}dossier.alerts", 3),))
    paging = Paging(kafka_bootstrap, prefix, fresh_database(ch, unique_name), ch, tmp_path)
    yield paging
    for process in paging.processes:
        process.stop()
    ch.execute(f"DROP DATABASE IF EXISTS {unique_name}")
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        existing = set(admin.list_topics())
        admin.delete_topics([t for t in paging.topics if t in existing])
    finally:
        admin.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook().start()
    yield hook
    hook.stop()
