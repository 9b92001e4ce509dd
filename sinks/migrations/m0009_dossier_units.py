"""Where a dossier's rows are: the (province, unit) pairs its events are stored under.

``events`` is sorted by (province, unit, dossier_id) and ``transitions`` by (province, dossier_id), so a
lookup by ``dossier_id`` alone reads the dossier_id column of every part (5.9 million rows for one dossier's
timeline on a year of two provinces). ``dossier_units``, sorted by ``dossier_id``, gives the pairs in one
granule; the timeline then reads only the dossier's granules of each table (0.8 million rows, most of them
the first granule of each part). A dossier's events may carry several units (a processing step moves it),
hence pairs, not one. Filled by a materialized view from ``events`` (distinct per insert, merged after; a
duplicate pair is harmless to ``IN``), and from the events already stored when the migration runs.
"""

STATEMENTS = (
    """
    CREATE TABLE IF NOT EXISTS {db}.dossier_units (
        dossier_id String,
        province String,
        unit String
    ) ENGINE = ReplacingMergeTree
    ORDER BY (dossier_id, province, unit)
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.dossier_units_from_events TO {db}.dossier_units AS
    SELECT DISTINCT dossier_id, province, unit
    FROM {db}.events
    """,
    """
    INSERT INTO {db}.dossier_units (dossier_id, province, unit)
    SELECT DISTINCT dossier_id, province, unit
    FROM {db}.events
    """,
)
