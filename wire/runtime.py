"""The client runtime every room shares: Kafka and ClickHouse clients built from ``wire.settings``, and gzip
made cheaper process-wide in both Kafka client libraries (neither has a setting for it).

* Encoding at level 1 instead of their fixed level 9: several times faster for somewhat larger batches
  (kafka-python, bench/bench_producers.py: ~50 MB/s at level 9, ~270 MB/s at level 1 for 15% larger
  batches, backfill throughput +40%); still plain gzip for every reader.
* Decoding (aiokafka) with one ``zlib.decompress`` call instead of a ``GzipFile`` over a ``BytesIO``: ~2.5 times
  faster per batch; the sink spent ~10% of its time in ``GzipFile.read`` (py-spy, bench/bench_sink.py).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from clickhouse_driver import Client
from kafka import KafkaProducer

from wire.settings import Settings

GZIP_LEVEL = 1
_GZIP_MEMBERS = 16 + zlib.MAX_WBITS  # wbits: gzip framing, as aiokafka writes and Kafka clients expect
_ANY_HEADER = 32 + zlib.MAX_WBITS  # wbits: zlib or gzip framing, detected from the header


def gzip_level_1(payload: bytes, compresslevel: int | None = None) -> bytes:
    return zlib.compress(payload, GZIP_LEVEL, wbits=_GZIP_MEMBERS)


def gzip_decompress(payload: bytes) -> bytes:
    """Every member of a gzip stream, concatenated (as ``GzipFile.read`` returns)."""
    out = []
    while payload:
        decompressor = zlib.decompressobj(_ANY_HEADER)
        out.append(decompressor.decompress(payload))
        payload = decompressor.unused_data
    return b"".join(out) if len(out) != 1 else out[0]


def use_fast_gzip() -> None:
    """Patch aiokafka's codec functions in the modules that imported them (C and Python record batches)."""
    import aiokafka.codec
    import aiokafka.record._crecords.default_records as c_records  # type: ignore[import-not-found]
    import aiokafka.record.default_records as py_records

    for module in (aiokafka.codec, py_records, c_records):
        module.gzip_encode = gzip_level_1
        module.gzip_decode = gzip_decompress


def use_fast_kafka_python_gzip() -> None:
    """kafka-python's record batches: gzip at level 1 too (decoding is left as it is)."""
    import kafka.record.default_records

    kafka.record.default_records.gzip_encode = gzip_level_1


def kafka_producer(bootstrap: str | None = None, **options: Any) -> KafkaProducer:
    """A kafka-python producer on ``bootstrap`` (default: ``wire.settings``)."""
    return KafkaProducer(bootstrap_servers=bootstrap or Settings().bootstrap_servers(), **options)


def aiokafka_producer(bootstrap: str | None = None, **options: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap or Settings().bootstrap_servers(), **options)


def aiokafka_consumer(*topics: str, bootstrap: str | None = None, **options: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap or Settings().bootstrap_servers(), **options)


def clickhouse_client(connection: Mapping[str, Any] | None = None, **options: Any) -> Client:
    """A clickhouse-driver client: ``connection`` (default: ``wire.settings``) with ``options`` over it."""
    return Client(**{**(connection or Settings().clickhouse_settings()), **options})
