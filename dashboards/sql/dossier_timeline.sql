-- A dossier's timeline: its events (each once, as first received) and its transitions, in event time.
-- Events at the same instant keep their arrival order; a transition comes after the events at its instant.
-- Params: dossier_id. PREWHERE: read the other columns of only its rows (explicit: with the aliases below,
-- ClickHouse 18.16 does not move the condition itself; 3x faster on a year of two provinces). WHERE: the
-- province and units the dossier's events are stored under (dossier_units, migration 0009) start both
-- tables' sorting keys, so only the dossier's granules are read (5x less again; in subqueries, for the outer
-- aliases shadow the columns).
SELECT at, at_us, what, kind, status, unit, officer, detail
FROM
(
    SELECT
        argMax(occurred_at, _version) AS at,
        argMax(occurred_us, _version) AS at_us,
        'event' AS what,
        argMax(type, _version) AS kind,
        argMax(status, _version) AS status,
        argMax(unit, _version) AS unit,
        argMax(officer, _version) AS officer,
        event_id AS detail,
        min(_offset) AS arrival
    FROM
    (
        SELECT occurred_at, occurred_us, type, status, unit, officer, event_id, _offset, _version
        FROM events
        PREWHERE dossier_id = %(dossier_id)s
        WHERE (province, unit) IN (SELECT province, unit FROM dossier_units WHERE dossier_id = %(dossier_id)s)
    )
    GROUP BY event_id
    UNION ALL
    SELECT
        any(at) AS at,
        toUInt32(0) AS at_us,
        'transition' AS what,
        any(kind) AS kind,
        toUInt8(0) AS status,
        any(unit) AS unit,
        any(officer) AS officer,
        concat(any(outcome), if(any(end_type) = '', '', concat(' (', any(end_type), ')'))) AS detail,
        toUInt64(18446744073709551615) AS arrival
    FROM
    (
        SELECT at, kind, unit, officer, outcome, end_type, transition_id
        FROM transitions
        PREWHERE dossier_id = %(dossier_id)s
        WHERE province IN (SELECT province FROM dossier_units WHERE dossier_id = %(dossier_id)s)
    )
    GROUP BY transition_id
)
ORDER BY at, at_us, arrival, kind
