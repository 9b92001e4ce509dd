"""Transitions (``dossier-transition/1``) and each dossier's current standing derived from them.

``transitions`` deduplicates on ``transition_id`` (deterministic, unique per dossier). ``dossiers`` is
filled by a materialized view, one row per standing-changing transition, and keeps per dossier the row
with the greatest ``_version`` = (rank of the kind, instant): ``finished`` over ``overdue`` over
``due_soon`` over the latest of ``accepted``/``paused``/``resumed``. Ranking by kind is sound because,
for an open dossier, overdue and due-soon never revert (the effective SLA time only moves forward,
DOMAIN.md section 3), and a finished dossier stays finished. ``apology_issued`` changes no standing.
"""

STATEMENTS = (
    """
    CREATE TABLE IF NOT EXISTS {db}.transitions (
        transition_id String,
        dossier_id String,
        kind String,
        at DateTime('Asia/Ho_Chi_Minh'),
        province String,
        unit String,
        procedure_code String,
        procedure_field String,
        officer String,
        due_at Nullable(DateTime('Asia/Ho_Chi_Minh')),
        outcome String,
        end_type String,
        _topic String,
        _partition UInt32,
        _offset UInt64,
        _timestamp DateTime('Asia/Ho_Chi_Minh'),
        _inserted_at DateTime('Asia/Ho_Chi_Minh') DEFAULT now()
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(at)
    ORDER BY (province, dossier_id, transition_id)
    """,
    """
    CREATE VIEW IF NOT EXISTS {db}.transitions_unique AS
    SELECT
        dossier_id,
        transition_id,
        any(kind) AS kind,
        any(at) AS at,
        any(province) AS province,
        any(unit) AS unit,
        any(procedure_code) AS procedure_code,
        any(procedure_field) AS procedure_field,
        any(officer) AS officer,
        any(due_at) AS due_at,
        any(outcome) AS outcome,
        any(end_type) AS end_type
    FROM {db}.transitions
    GROUP BY dossier_id, transition_id
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.dossiers (
        dossier_id String,
        province String,
        unit String,
        procedure_code String,
        procedure_field String,
        officer String,
        standing String,
        since DateTime('Asia/Ho_Chi_Minh'),
        due_at Nullable(DateTime('Asia/Ho_Chi_Minh')),
        outcome String,
        end_type String,
        _version UInt64
    ) ENGINE = ReplacingMergeTree(_version)
    ORDER BY (province, dossier_id)
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.dossiers_from_transitions TO {db}.dossiers AS
    SELECT
        dossier_id,
        province,
        unit,
        procedure_code,
        procedure_field,
        officer,
        kind AS standing,
        at AS since,
        due_at,
        outcome,
        end_type,
        bitOr(
            bitShiftLeft(toUInt64(multiIf(kind = 'finished', 3, kind = 'overdue', 2, kind = 'due_soon', 1, 0)), 40),
            toUInt64(at)
        ) AS _version
    FROM {db}.transitions
    WHERE kind IN ('accepted', 'paused', 'resumed', 'due_soon', 'overdue', 'finished')
    """,
    """
    CREATE VIEW IF NOT EXISTS {db}.dossiers_current AS
    SELECT
        dossier_id,
        argMax(province, _version) AS province,
        argMax(unit, _version) AS unit,
        argMax(procedure_code, _version) AS procedure_code,
        argMax(procedure_field, _version) AS procedure_field,
        argMax(officer, _version) AS officer,
        argMax(standing, _version) AS standing,
        argMax(since, _version) AS since,
        argMax(due_at, _version) AS due_at,
        argMax(outcome, _version) AS outcome,
        argMax(end_type, _version) AS end_type
    FROM {db}.dossiers
    GROUP BY dossier_id
    """,
)
