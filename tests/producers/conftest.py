"""Fixtures of the producers' tests: an HMAC key, a fresh topic on the real local Kafka, a reader."""

from __future__ import annotations

import pytest

from wire.topics import TopicSpec, ensure_topics

TEST_KEY = "producers-test-key-not-a-secret"


@pytest.fixture(autouse=True)
def hmac_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MOTCUA_HMAC_KEY", TEST_KEY)
    monkeypatch.delenv("MOTCUA_HMAC_KEY_FILE", raising=False)
    return TEST_KEY


@pytest.fixture
def bootstrap(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The local stack's Kafka, also as MOTCUA_KAFKA_BOOTSTRAP for the code under test."""
    monkeypatch.setenv("MOTCUA_KAFKA_BOOTSTRAP", kafka_bootstrap)
    return kafka_bootstrap


@pytest.fixture
def topic(bootstrap: str, unique_name: str) -> str:
    """A new 3-partition topic for this test."""
    ensure_topics(bootstrap, 1, (TopicSpec(unique_name, 3),))
    return unique_name
