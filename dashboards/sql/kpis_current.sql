-- Current KPIs by province or by unit: the latest stored row of every scope id for one period,
-- with its province (a unit's, from the scopes dossiers were accepted in), worst overdue rate first.
-- Params: scope ('province' | 'unit'), period ('day' | 'month' | 'quarter' | 'year'), period_start (Date).
-- Rates are kpis_latest's, recomputed from the counts (NULL when the denominator is 0).
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
    FROM kpis_latest
    WHERE scope = %(scope)s AND period = %(period)s AND period_start = %(period_start)s AND to_process > 0
) AS k
ANY LEFT JOIN
(
    SELECT unit AS unit_key, any(province) AS unit_province
    FROM scopes
    GROUP BY unit
) AS u USING unit_key
ORDER BY overdue_rate DESC NULLS LAST, scope_id
