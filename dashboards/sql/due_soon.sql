-- Due-soon dossiers: open, not overdue, within one working day of their due time (the last moment to
-- issue the apology letter); most urgent first, with the unit and officer to warn.
-- Params: province ('' for every province). open_dossiers FINAL: each open dossier's latest snapshot.
SELECT
    dossier_id,
    province,
    unit,
    officer,
    procedure_code,
    due_at,
    since AS due_soon_since
FROM open_dossiers FINAL
WHERE open = 1 AND standing = 'due_soon' AND (%(province)s = '' OR province = %(province)s)
ORDER BY due_at, dossier_id
