-- The overdue backlog: open dossiers past their due time (or with a second supplementation request),
-- with the unit and officer responsible when they became overdue; longest overdue first.
-- Params: province ('' for every province).
SELECT
    dossier_id,
    province,
    unit,
    officer,
    procedure_code,
    due_at,
    since AS overdue_since
FROM
(
    -- dossiers_current for only the dossiers with a 'overdue' row: the view aggregates every dossier ever
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
    FROM dossiers
    WHERE dossier_id IN (SELECT dossier_id FROM dossiers WHERE standing = 'overdue')
    GROUP BY dossier_id
)
WHERE standing = 'overdue' AND (%(province)s = '' OR province = %(province)s)
ORDER BY overdue_since, dossier_id
