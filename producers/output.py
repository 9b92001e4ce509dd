"""Where a stream of emissions goes: a JSON-lines file or Kafka, optionally paced in real time."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from producers.kafka import EventProducer
from producers.simulator.stream import Emission


def paced(emissions: Iterable[Emission], start: int, speedup: float) -> Iterator[Emission]:
    """Release each emission when `(at - start) / speedup` seconds of wall time have passed."""
    wall0 = time.monotonic()
    for e in emissions:
        delay = wall0 + (e.at - start) / speedup - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield e


def write_lines(emissions: Iterable[Emission], out: BinaryIO) -> int:
    """Write every emission as one JSON line; returns the number of lines."""
    n = 0
    write = out.write
    for e in emissions:
        write(e.value + b"\n")
        n += 1
    return n


def produce(emissions: Iterable[Emission], producer: EventProducer) -> int:
    """Send every emission (ticks to every partition); returns the number of dossier events sent.

    Delivery failures raise `DeliveryError` (from `send` or at the final flush).
    """
    n = 0
    send = producer.send
    for e in emissions:
        if e.key is None:
            producer.broadcast(e.value)
        else:
            send(e.key, e.value)
            n += 1
    producer.flush()
    return n
