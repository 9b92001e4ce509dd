-- The overdue backlog: open dossiers past their due time (or with a second supplementation request),
-- with the unit and officer responsible when they became overdue; longest overdue first.
-- Params: province ('' for every province). open_dossiers FINAL: each open dossier's latest snapshot.
SELECT
    dossier_id,
    province,
    unit,
    officer,
    procedure_code,
    due_at,
    since AS overdue_since
FROM open_dossiers FINAL
WHERE open = 1 AND standing = 'overdue' AND (%(province)s = '' OR province = %(province)s)
ORDER BY overdue_since, dossier_id
