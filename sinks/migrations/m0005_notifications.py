"""Notifications (``motcua notify``): one row per state of a page, the page being an alert sent to one official.

This is the notifier's durable delivery state as well as its log: a page is keyed by (``alert_id``,
``recipient``), the recipient being the HMAC pseudonym of the official (never a name or an address), and
every change of its state (held, queued, sent, acknowledged, escalated, resolved, failed, expired) is a new
row with a greater ``version``. ``notifications_latest`` keeps, per key, the row with the greatest version
(by ``argMax``, exact before merges). ``recipient`` is empty for an alert that reached no one (expired, or no
route and no fallback). ``owner`` is the partition of the alerts topic (and of the notifier's inbox) whose
consumer owns the page; ``clock_at`` is the notifier's clock (event time with ``--clock event``) when the row
was written. Instants are whole seconds, as everywhere on 18.16.
"""

STATEMENTS = (
    """
    CREATE TABLE IF NOT EXISTS {db}.notifications (
        alert_id String,
        recipient String,
        kind String,
        alert_at DateTime('Asia/Ho_Chi_Minh'),
        province String,
        unit String,
        dossier_id String,
        procedure_code String,
        due_at Nullable(DateTime('Asia/Ho_Chi_Minh')),
        summary String,
        role String,
        route String,
        level UInt8,
        channel String,
        status String,
        attempts UInt16,
        release_at DateTime('Asia/Ho_Chi_Minh'),
        sent_at Nullable(DateTime('Asia/Ho_Chi_Minh')),
        acked_at Nullable(DateTime('Asia/Ho_Chi_Minh')),
        acked_by String,
        escalated_to String,
        message_id String,
        error String,
        owner UInt16,
        clock_at DateTime('Asia/Ho_Chi_Minh'),
        version UInt64,
        _inserted_at DateTime('Asia/Ho_Chi_Minh') DEFAULT now()
    ) ENGINE = ReplacingMergeTree(version)
    PARTITION BY toYYYYMM(alert_at)
    ORDER BY (alert_id, recipient)
    """,
    """
    CREATE VIEW IF NOT EXISTS {db}.notifications_latest AS
    SELECT
        alert_id,
        recipient,
        argMax(kind, version) AS kind,
        argMax(alert_at, version) AS alert_at,
        argMax(province, version) AS province,
        argMax(unit, version) AS unit,
        argMax(dossier_id, version) AS dossier_id,
        argMax(procedure_code, version) AS procedure_code,
        argMax(due_at, version) AS due_at,
        argMax(summary, version) AS summary,
        argMax(role, version) AS role,
        argMax(route, version) AS route,
        argMax(level, version) AS level,
        argMax(channel, version) AS channel,
        argMax(status, version) AS status,
        argMax(attempts, version) AS attempts,
        argMax(release_at, version) AS release_at,
        argMax(sent_at, version) AS sent_at,
        argMax(acked_at, version) AS acked_at,
        argMax(acked_by, version) AS acked_by,
        argMax(escalated_to, version) AS escalated_to,
        argMax(message_id, version) AS message_id,
        argMax(error, version) AS error,
        argMax(owner, version) AS owner,
        argMax(clock_at, version) AS clock_at,
        max(version) AS last_version,
        argMax(_inserted_at, version) AS updated_at
    FROM {db}.notifications
    GROUP BY alert_id, recipient
    """,
)
