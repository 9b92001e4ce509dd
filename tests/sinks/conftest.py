"""Fixtures of the sink tests: a database and a set of topics of the test's own, removed afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from clickhouse_driver import Client
from kafka import KafkaAdminClient

from tests.sinks.pipeline import PARTITIONS, create_topics, fresh_database


@dataclass(frozen=True)
class Scratch:
    prefix: str  # the sink reads <prefix>dossier.*
    database: str

    def topic(self, role: str) -> str:
        return f"{self.prefix}dossier.{role}"


@pytest.fixture
def scratch(kafka_bootstrap: str, ch: Client, unique_name: str) -> Iterator[Scratch]:
    create_topics(kafka_bootstrap, f"{unique_name}.")
    yield Scratch(f"{unique_name}.", fresh_database(ch, unique_name))
    ch.execute(f"DROP DATABASE IF EXISTS {unique_name}")
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.delete_topics([f"{unique_name}.dossier.{role}" for role in PARTITIONS])
    finally:
        admin.close()
