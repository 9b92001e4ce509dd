"""aiokafka's gzip, made cheaper process-wide (it has no setting for either).

* Encoding at level 1 instead of its fixed level 9: several times faster for somewhat larger batches
  (measured for kafka-python by bench/bench_producers.py); still plain gzip for every reader.
* Decoding with one ``zlib.decompress`` call instead of a ``GzipFile`` over a ``BytesIO``: ~2.5 times
  faster per batch; the sink spent ~10% of its time in ``GzipFile.read`` (py-spy, bench/bench_sink.py).
"""

from __future__ import annotations

import zlib

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
