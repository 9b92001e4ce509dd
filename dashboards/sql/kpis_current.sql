-- Current KPIs by province or by unit: the latest stored row of every scope id for one period,
-- with its province (a unit's, from the scopes dossiers were accepted in), worst overdue rate first.
-- Params: hierarchy ('legacy' | '2025'), scope ('province' | 'unit'), period ('day' | 'month' | 'quarter' |
-- 'year'), period_start (Date). legacy: kpis_latest, province codes as sent; 2025: kpis_latest_2025, a
-- province row the sum of its former provinces' counts (migration 0007), and a unit's province the one it
-- became part of (province_codes_2025, migration 0010; a code not in the mapping stays as it is).
-- Rates are the view's, recomputed from the counts (NULL when the denominator is 0), never averaged.
SELECT
    scope_id,
    if(scope = 'unit', unit_province, scope_id) AS province,
    period_start,
    provisional,
    watermark,
    to_process,
    received,
    finished,
    finished_late,
    open_overdue,
    open_due_soon,
    on_time_rate,
    overdue_rate,
    online_rate,
    e_result_rate,
    digitization_rate,
    online_payment_rate,
    satisfaction_rate
FROM
(
    SELECT scope_id AS unit_key, *
    FROM
    (
        SELECT * FROM kpis_latest WHERE %(hierarchy)s = 'legacy'
        UNION ALL
        SELECT * FROM kpis_latest_2025 WHERE %(hierarchy)s = '2025'
    )
    WHERE scope = %(scope)s AND period = %(period)s AND period_start = %(period_start)s AND to_process > 0
) AS k
ANY LEFT JOIN
(
    SELECT unit AS unit_key, any(if(%(hierarchy)s = '2025' AND new_code != '', new_code, province)) AS unit_province
    FROM scopes
    ANY LEFT JOIN (SELECT old_code AS province, new_code FROM province_codes_2025) AS merger USING province
    GROUP BY unit
) AS u USING unit_key
ORDER BY overdue_rate DESC NULLS LAST, scope_id
