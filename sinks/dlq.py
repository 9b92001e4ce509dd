"""Refused records to the DLQ topic: the original bytes, the reasons in ``motcua.errors.*`` headers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from sinks.processors import Refusal
from wire.dlq import dlq_headers

SOURCE = "sink"


def refusal_headers(refusal: Refusal, at: float | None = None) -> list[tuple[str, bytes]]:
    """The headers of docs/topics.md: reason, stage, where the record was read, who refused it and when."""
    m = refusal.message
    return dlq_headers(
        refusal.reason, stage=refusal.stage, source=SOURCE, topic=m.topic, partition=m.partition, offset=m.offset, at=at
    )


async def send_refusals(producer: AIOKafkaProducer, topic: str, refusals: Sequence[Refusal]) -> None:
    """Produce every refusal and wait until Kafka acknowledged all of them (before offsets are committed)."""
    if not refusals:
        return
    sent = [
        await producer.send(topic, value=r.message.value, key=r.message.key, headers=refusal_headers(r))
        for r in refusals
    ]
    await asyncio.gather(*sent)
