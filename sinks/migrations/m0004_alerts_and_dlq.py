"""Alerts (``dossier-alert/1``) and the dead-letter queue, both kept queryable.

Alerts deduplicate on their stable ``alert_id``. A DLQ row is keyed by where the refused record was
read (``motcua.errors.topic/partition/offset``; the DLQ record's own coordinates when it was refused
before Kafka), so a record refused twice (redelivered, or refused by the streams and by the sink) is one
row in ``dlq_unique``. Payloads are the refused bytes unchanged (pseudonymised at the producer edge).
"""

STATEMENTS = (
    """
    CREATE TABLE IF NOT EXISTS {db}.alerts (
        alert_id String,
        kind String,
        at DateTime('Asia/Ho_Chi_Minh'),
        province String,
        unit String,
        dossier_id String,
        officer String,
        due_at Nullable(DateTime('Asia/Ho_Chi_Minh')),
        rate Nullable(Float64),
        threshold Nullable(Float64),
        period_start Nullable(Date),
        message String,
        _topic String,
        _partition UInt32,
        _offset UInt64,
        _timestamp DateTime('Asia/Ho_Chi_Minh'),
        _inserted_at DateTime('Asia/Ho_Chi_Minh') DEFAULT now()
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(at)
    ORDER BY (province, alert_id)
    """,
    """
    CREATE VIEW IF NOT EXISTS {db}.alerts_unique AS
    SELECT
        alert_id,
        any(kind) AS kind,
        any(at) AS at,
        any(province) AS province,
        any(unit) AS unit,
        any(dossier_id) AS dossier_id,
        any(officer) AS officer,
        any(due_at) AS due_at,
        any(rate) AS rate,
        any(threshold) AS threshold,
        any(period_start) AS period_start,
        any(message) AS message
    FROM {db}.alerts
    GROUP BY alert_id
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.dlq (
        origin_topic String,
        origin_partition Int32,
        origin_offset Int64,
        stage String,
        source String,
        reason String,
        refused_at DateTime('Asia/Ho_Chi_Minh'),
        key String,
        payload String,
        _topic String,
        _partition UInt32,
        _offset UInt64,
        _timestamp DateTime('Asia/Ho_Chi_Minh'),
        _inserted_at DateTime('Asia/Ho_Chi_Minh') DEFAULT now()
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(refused_at)
    ORDER BY (origin_topic, origin_partition, origin_offset)
    """,
    """
    CREATE VIEW IF NOT EXISTS {db}.dlq_unique AS
    SELECT
        origin_topic,
        origin_partition,
        origin_offset,
        min(refused_at) AS refused_at,
        groupUniqArray(stage) AS stages,
        groupUniqArray(source) AS sources,
        any(reason) AS reason,
        any(key) AS key,
        any(payload) AS payload
    FROM {db}.dlq
    GROUP BY origin_topic, origin_partition, origin_offset
    """,
)
