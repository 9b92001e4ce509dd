"""How long the broker may hold the worker's fetches: faust's fixed 1.5 s replaced by the worker's setting.

faust-streaming (0.15.3) creates its worker's aiokafka consumer with ``fetch_max_wait_ms=1500``, a
constant no setting reaches. With records arriving all the time, the broker should answer a fetch as soon
as one byte is there, but aiokafka fetches a partition again only after what it fetched was handed over,
and its next request often found nothing new and was held the full 1.5 s. Measured at 1,000 events/s
(bench/bench_freshness.py, one worker per stage): records reached the dossier agent 0.7 to 1.8 s after
they were produced, in bursts every ~1.6 s; produced -> summary sent took 1.26 s (median). With the
fetch held at most 0.1 s: batches every ~0.12 s, records 0.02-0.14 s old, produced -> summary 0.14 s.

The price of a short wait is an idle worker's fetch requests: one per broker every ``max_wait`` seconds.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

_create_worker_consumer = AIOKafkaConsumerThread._create_worker_consumer


def install(max_wait_seconds: float) -> None:
    """Every faust worker consumer created from now on lets the broker hold a fetch at most ``max_wait_seconds``."""

    def create_worker_consumer(thread: AIOKafkaConsumerThread, transport: Any) -> Any:
        consumer = _create_worker_consumer(thread, transport)
        consumer._fetch_max_wait_ms = round(max_wait_seconds * 1000)  # read by its fetcher at start()
        return consumer

    AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]
