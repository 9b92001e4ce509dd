"""wire.runtime's process-wide gzip codecs: what they write, every gzip reader reads; what they read, equals gzip's."""

from __future__ import annotations

import gzip

import aiokafka.record._crecords.default_records as c_records  # type: ignore[import-not-found]
from aiokafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from hypothesis import given
from hypothesis import strategies as st

from wire.runtime import gzip_decompress, gzip_level_1, use_fast_gzip


@given(st.lists(st.binary(max_size=2000), min_size=1, max_size=4))
def test_decompress_reads_every_member_like_gzip(members: list[bytes]) -> None:
    stream = b"".join(gzip.compress(m) for m in members)
    assert gzip_decompress(stream) == gzip.decompress(stream) == b"".join(members)


@given(st.binary(max_size=5000))
def test_level_1_is_plain_gzip(payload: bytes) -> None:
    assert gzip.decompress(gzip_level_1(payload)) == payload


def test_aiokafka_record_batches_round_trip_through_the_patched_codecs() -> None:
    use_fast_gzip()
    assert c_records.gzip_encode is gzip_level_1 and c_records.gzip_decode is gzip_decompress
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=DefaultRecordBatch.CODEC_GZIP, is_transactional=False,
        producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=1 << 20,
    )
    values = [f'{{"event_id": "e{i}", "n": {i}}}'.encode() for i in range(500)]
    for offset, value in enumerate(values):
        builder.append(offset, timestamp=1_700_000_000_000, key=b"k", value=value, headers=[])
    batch = DefaultRecordBatch(bytes(builder.build()))
    assert [record.value for record in batch] == values


def test_kafka_python_record_batches_round_trip_through_the_level_1_codec() -> None:
    import kafka.record.default_records as kafka_records

    from wire.runtime import use_fast_kafka_python_gzip

    use_fast_kafka_python_gzip()
    assert kafka_records.gzip_encode is gzip_level_1
    builder = kafka_records.DefaultRecordBatchBuilder(
        magic=2, compression_type=kafka_records.DefaultRecordBatch.CODEC_GZIP, is_transactional=False,
        producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=1 << 20,
    )
    values = [f'{{"event_id": "e{i}"}}'.encode() for i in range(200)]
    for offset, value in enumerate(values):
        builder.append(offset, timestamp=1_700_000_000_000, key=b"k", value=value, headers=[])
    batch = kafka_records.DefaultRecordBatch(bytes(builder.build()))
    assert [record.value for record in batch] == values
