"""The event archive: every valid ``dossier-event/1`` record, with the Kafka coordinates it was read at.

Deduplication: (``dossier_id``, ``event_id``) is the idempotency key and the first record received wins
(lowest offset in its partition), so ``_version`` = ``bitNot(_offset)``. Merges collapse re-deliveries
(identical rows, same sorting key); ``events_unique`` groups by the key, so reads are exact before any
merge and even for two different records claiming the same id.

Order: low-cardinality province and unit first, then the dossier: a unit's events are contiguous, and a
dossier lookup still skips most granules (its province is known, and ``dossier_id`` is the next column).
"""

STATEMENTS = (
    """
    CREATE TABLE IF NOT EXISTS {db}.events (
        dossier_id String,
        event_id String,
        type String,
        occurred_at DateTime('Asia/Ho_Chi_Minh'),
        occurred_us UInt32,
        province String,
        unit String,
        procedure_code String,
        procedure_field String,
        status UInt8,
        officer String,
        payload String,
        _topic String,
        _partition UInt32,
        _offset UInt64,
        _timestamp DateTime('Asia/Ho_Chi_Minh'),
        _inserted_at DateTime('Asia/Ho_Chi_Minh') DEFAULT now(),
        _version UInt64 DEFAULT bitNot(_offset)
    ) ENGINE = ReplacingMergeTree(_version)
    PARTITION BY toYYYYMM(occurred_at)
    ORDER BY (province, unit, dossier_id, event_id)
    """,
    """
    CREATE VIEW IF NOT EXISTS {db}.events_unique AS
    SELECT
        dossier_id,
        event_id,
        argMax(type, _version) AS type,
        argMax(occurred_at, _version) AS occurred_at,
        argMax(occurred_us, _version) AS occurred_us,
        argMax(province, _version) AS province,
        argMax(unit, _version) AS unit,
        argMax(procedure_code, _version) AS procedure_code,
        argMax(procedure_field, _version) AS procedure_field,
        argMax(status, _version) AS status,
        argMax(officer, _version) AS officer,
        argMax(payload, _version) AS payload,
        argMax(_topic, _version) AS _topic,
        argMax(_partition, _version) AS _partition,
        min(_offset) AS _offset
    FROM {db}.events
    GROUP BY dossier_id, event_id
    """,
)
