"""Refused records to the DLQ topic: the original bytes, the reasons in ``motcua.errors.*`` headers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from dossier.calendar import format_instant
from sinks.processors import DLQ_HEADER_PREFIX, Refusal

SOURCE = "sink"


def dlq_headers(refusal: Refusal, at: float | None = None) -> list[tuple[str, bytes]]:
    """The headers of docs/topics.md: reason, stage, where the record was read, who refused it and when."""
    m = refusal.message
    values = {
        "reason": refusal.reason,
        "stage": refusal.stage,
        "topic": m.topic,
        "partition": str(m.partition),
        "offset": str(m.offset),
        "source": SOURCE,
        "at": format_instant(round(time.time() if at is None else at)),
    }
    return [(DLQ_HEADER_PREFIX + name, value.encode()) for name, value in values.items()]


async def send_refusals(producer: AIOKafkaProducer, topic: str, refusals: Sequence[Refusal]) -> None:
    """Produce every refusal and wait until Kafka acknowledged all of them (before offsets are committed)."""
    if not refusals:
        return
    sent = [
        await producer.send(topic, value=r.message.value, key=r.message.key, headers=dlq_headers(r))
        for r in refusals
    ]
    await asyncio.gather(*sent)
