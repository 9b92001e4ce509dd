"""Headers of a record refused into ``dossier.dlq`` (docs/topics.md), after Kafka Connect's ``__connect.errors.*``."""

from __future__ import annotations

from datetime import UTC, datetime

from dossier.contract import Violation

PREFIX = "motcua.errors."


def dlq_headers(
    violations: list[Violation], topic: str, partition: int, offset: int, refused_at: datetime | None = None
) -> list[tuple[str, bytes]]:
    """The reason (every violation, ``field: reason`` joined by ``; ``), where it was read, who refused it, when.

    ``refused_at`` is wall-clock metadata for operators, never an input of any decision.
    """
    at = (refused_at or datetime.now(UTC)).isoformat(timespec="seconds")
    return [
        (PREFIX + "reason", "; ".join(map(str, violations)).encode()),
        (PREFIX + "stage", b"validate"),
        (PREFIX + "topic", topic.encode()),
        (PREFIX + "partition", str(partition).encode()),
        (PREFIX + "offset", str(offset).encode()),
        (PREFIX + "source", b"streams"),
        (PREFIX + "at", at.encode()),
    ]
