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
FROM dossiers_current
WHERE standing = 'overdue' AND (%(province)s = '' OR province = %(province)s)
ORDER BY overdue_since, dossier_id
