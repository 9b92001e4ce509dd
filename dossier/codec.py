"""Compact binary encodings (msgpack) of what the streams keep in tables and pass between agents.

* A dossier's table value: its partition, its deduplicated events (source offset and original bytes, in
  arrival order) and the timer transitions already fired (with the source offset that fired them),
  deflated: 3.3 times smaller (the events are JSON), so that the worker's table of open dossiers fits in
  its own page cache and most values fit in one SQLite page (see ``streams.store``).
* A record of the internal summaries topic: a dossier's new summary with its version (the source offset
  of the last event it counts), several of them (one message per batch and partition: faust's
  per-message cost is the larger part of a small record's), or a source partition's watermark.

Events are kept as the bytes that were sent, not as a decoded form: the contract decoder is the only
reader of an event, here as everywhere, and the table stays readable by any later version of the code.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, fields

import msgspec

from dossier.lifecycle import DossierSummary

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()

Fired = tuple[str, float, int]
"""(timer kind, instant, source offset of the record whose watermark fired it)."""


@dataclass(slots=True)
class StoredDossier:
    """What the dossier table keeps per dossier."""

    partition: int
    events: list[tuple[int, bytes]]
    fired: list[Fired]


_DEFLATED = 0x78
"""The first byte of a zlib stream; a dossier's msgpack array starts with 0x93, so values written before
the tables were deflated (a changelog kept from an earlier version) still decode."""


def encode_dossier(d: StoredDossier) -> bytes:
    return zlib.compress(_encoder.encode((d.partition, d.events, d.fired)), 1)


def decode_dossier(data: bytes) -> StoredDossier:
    if data[0] == _DEFLATED:
        data = zlib.decompress(data)
    partition, events, fired = _decoder.decode(data)
    return StoredDossier(partition, [(o, raw) for o, raw in events], [(k, a, o) for k, a, o in fired])


def encode_float(value: float) -> bytes:
    return _encoder.encode(value)


def decode_float(data: bytes) -> float:
    return float(_decoder.decode(data))


_SUMMARY_FIELDS = tuple(f.name for f in fields(DossierSummary))
SUMMARY, WATERMARK, SUMMARIES = 0, 1, 2


def summary_tuple(s: DossierSummary) -> tuple[object, ...]:
    return tuple(getattr(s, name) for name in _SUMMARY_FIELDS)


def summary_from_tuple(values: list[object]) -> DossierSummary:
    s = DossierSummary(*values)  # type: ignore[arg-type]
    s.pauses = tuple((requested, received) for requested, received in s.pauses)  # type: ignore[misc]
    s.request_times = tuple(s.request_times)
    return s


def encode_summary_record(s: DossierSummary, version: int) -> bytes:
    """``version``: the source offset of the last event ``s`` counts; a dossier's summaries carry growing ones."""
    return _encoder.encode((SUMMARY, summary_tuple(s), version))


def decode_summary_record(data: bytes) -> tuple[DossierSummary, int]:
    """A summary record (as ``encode_summary_record`` made it): the summary and its version."""
    kind, values, version = _decoder.decode(data)
    if kind != SUMMARY:
        raise ValueError(f"not a summary record: type {kind!r}")
    return summary_from_tuple(values), version


def encode_summaries_record(encoded_summaries: list[bytes]) -> bytes:
    """Several summary records (each as ``encode_summary_record`` made it) in one message."""
    return _encoder.encode((SUMMARIES, encoded_summaries))


def encode_watermark_record(source_partition: int, watermark: float, source_partitions: int) -> bytes:
    return _encoder.encode((WATERMARK, source_partition, watermark, source_partitions))


@dataclass(frozen=True, slots=True)
class WatermarkRecord:
    source_partition: int
    watermark: float
    source_partitions: int


def decode_summaries_record(data: bytes) -> WatermarkRecord | list[bytes]:
    """A watermark, or the encoded summary records a message holds (one or several, to decode one by one with
    ``decode_summary_record``)."""
    record = _decoder.decode(data)
    if record[0] == SUMMARY:
        return [data]
    if record[0] == WATERMARK:
        return WatermarkRecord(record[1], float(record[2]), record[3])
    if record[0] == SUMMARIES:
        return list(record[1])
    raise ValueError(f"unknown summaries record type {record[0]!r}")
