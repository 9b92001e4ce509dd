"""The open dossiers and the scopes: what the wall screens read instead of every dossier ever stored.

``open_dossiers`` holds snapshots of ``dossiers_current`` rows: after each batch, the sink writes the
current row of every dossier whose standing the batch's transitions touched (``sinks.open_dossiers``),
computed from every ``dossiers`` row of that dossier, with its acceptance instant (``accepted_at``: the
first ``accepted`` transition's; the backlog buckets ages by it). ``open`` is 1 when the dossier is not
finished and the row's province is its current one (a dossier whose province changed gets a closed row
under the old one). The latest snapshot of a key, ``FINAL``'s row (greatest ``_version``, the ``dossiers``
version, ties to the last written), is the truth: a transition delivered twice or late can never bring a
finished dossier back, since every snapshot sees all its rows. The sink deletes the keys whose latest
row is closed (ClickHouse 18.16 has no TTL nor lightweight delete: mutations, in two phases), so the table
holds the ~25,000 open dossiers of a year of two provinces (and the last minutes' finished ones), not the
1.5 million ever stored. Read it as
``open_dossiers FINAL WHERE open = 1`` (view ``open_dossiers_current``).

``scopes`` is every (province, unit, procedure, field) a dossier was accepted in: the screens' drop-downs
and the unit -> province map of the unit KPI rows, a few hundred rows instead of a scan of ``dossiers``.
Filled by a materialized view from the ``accepted`` transitions (distinct per insert, merged after).

Both are filled from the data already stored when the migration runs.
"""

STATEMENTS = (
    """
    CREATE TABLE IF NOT EXISTS {db}.open_dossiers (
        province String,
        dossier_id String,
        unit String,
        procedure_code String,
        procedure_field String,
        officer String,
        standing String,
        since DateTime('Asia/Ho_Chi_Minh'),
        due_at Nullable(DateTime('Asia/Ho_Chi_Minh')),
        accepted_at DateTime('Asia/Ho_Chi_Minh'),
        open UInt8,
        _version UInt64,
        _written_at DateTime('Asia/Ho_Chi_Minh') DEFAULT now()
    ) ENGINE = ReplacingMergeTree(_version)
    ORDER BY (province, dossier_id)
    SETTINGS index_granularity = 1024
    """,
    """
    CREATE VIEW IF NOT EXISTS {db}.open_dossiers_current AS
    SELECT province, dossier_id, unit, procedure_code, procedure_field, officer, standing, since, due_at, accepted_at
    FROM {db}.open_dossiers FINAL
    WHERE open = 1
    """,
    """
    INSERT INTO {db}.open_dossiers
        (province, dossier_id, unit, procedure_code, procedure_field, officer, standing, since, due_at,
         accepted_at, open, _version)
    SELECT current_province, dossier_id, current_unit, current_procedure_code, current_procedure_field,
           current_officer, current_standing, current_since, current_due_at, first_accepted, 1, version
    FROM
    (
        SELECT
            dossier_id,
            argMax(province, _version) AS current_province,
            argMax(unit, _version) AS current_unit,
            argMax(procedure_code, _version) AS current_procedure_code,
            argMax(procedure_field, _version) AS current_procedure_field,
            argMax(officer, _version) AS current_officer,
            argMax(standing, _version) AS current_standing,
            argMax(since, _version) AS current_since,
            argMax(due_at, _version) AS current_due_at,
            max(_version) AS version
        FROM {db}.dossiers
        WHERE dossier_id IN (SELECT dossier_id FROM {db}.dossiers WHERE standing != 'finished')
        GROUP BY dossier_id
        HAVING current_standing != 'finished'
    ) AS current
    ANY LEFT JOIN
    (
        SELECT dossier_id, min(at) AS first_accepted
        FROM {db}.transitions
        WHERE kind = 'accepted'
          AND dossier_id IN (SELECT dossier_id FROM {db}.dossiers WHERE standing != 'finished')
        GROUP BY dossier_id
    ) AS acceptance USING dossier_id
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.scopes (
        province String,
        unit String,
        procedure_code String,
        procedure_field String
    ) ENGINE = ReplacingMergeTree
    ORDER BY (province, unit, procedure_code, procedure_field)
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.scopes_from_transitions TO {db}.scopes AS
    SELECT DISTINCT province, unit, procedure_code, procedure_field
    FROM {db}.transitions
    WHERE kind = 'accepted'
    """,
    """
    INSERT INTO {db}.scopes (province, unit, procedure_code, procedure_field)
    SELECT DISTINCT province, unit, procedure_code, procedure_field
    FROM {db}.transitions
    WHERE kind = 'accepted'
    """,
)
