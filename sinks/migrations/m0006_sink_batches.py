"""What the sink wrote, batch by batch: one row per topic-partition of every committed batch.

The pipeline-health screen reads it for the sink's lag (the partition's high watermark less the batch's
next offset, when the batch was written), its batches and their write time. Rows are telemetry, written
after the batch's data is acknowledged; a batch written twice (a crash before the commit) is one row in
``sink_batches`` once merged (same topic, partition and offsets). No TTL: ClickHouse 18.16 has none.
"""

STATEMENTS = (
    """
    CREATE TABLE IF NOT EXISTS {db}.sink_batches (
        written_at DateTime('Asia/Ho_Chi_Minh'),
        topic String,
        partition UInt32,
        first_offset UInt64,
        next_offset UInt64,
        records UInt32,
        rows UInt32,
        lag Int64,
        write_ms Float32
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(written_at)
    ORDER BY (topic, partition, first_offset, next_offset)
    """,
)
