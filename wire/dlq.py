"""Headers of a record refused into ``dossier.dlq`` (docs/topics.md), after Kafka Connect's ``__connect.errors.*``.

One builder for every component that refuses records (ingest, importer, streams, sink), so that the
header names and the time zone of ``motcua.errors.at`` cannot drift apart.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from dossier.calendar import format_instant
from dossier.contract import Violation

PREFIX = "motcua.errors."


def reason_text(violations: Iterable[Violation]) -> str:
    """Every violation as ``field: reason``, joined by ``; `` (the ``reason`` header)."""
    return "; ".join(map(str, violations))


def dlq_headers(
    reason: str,
    *,
    stage: str,
    source: str,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    at: float | None = None,
) -> list[tuple[str, bytes]]:
    """The reason, the stage, where the record was read (absent when refused before Kafka), who refused it, when.

    ``at`` (seconds since the epoch, default now) is wall-clock metadata for operators, never an input of any
    decision; it is written in local time (+07:00) like every other instant of the product.
    """
    values: dict[str, str] = {"reason": reason, "stage": stage}
    if topic is not None:
        values |= {"topic": topic, "partition": str(partition), "offset": str(offset)}
    values |= {"source": source, "at": format_instant(round(time.time() if at is None else at))}
    return [(PREFIX + name, value.encode()) for name, value in values.items()]
