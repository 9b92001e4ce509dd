-- Decision 766/QĐ-TTg group scores (layer A) derived from the KPI rows, per scope id, for one period.
-- The portal's formulas where they are known (shared/research/domain-research.md section 1.3):
--   group 2, progress (20 points) = 20 x on-time rate;
--   group 4, online payment (10) = 10 x online-payment rate (the single item of the METRICS sheet);
--   group 5, digitisation: items 4.1 (6 points) = 6 x e-result rate and 4.2 (4) = 4 x digitisation rate,
--     10 of the group's 22 points (the other items need data the events do not carry);
--   group 6, satisfaction: item 5.4 (6 points) = min(6, 6 x satisfaction rate / 0.90), 6 of 18;
--   group 3, online service (12): the portal's scoring is unknown; 12 x full-online completion rate
--     is this project's estimate, labelled as such.
-- A score is NULL where its rate is (zero denominator), never 0. Params: hierarchy ('legacy' | '2025'),
-- scope, period, period_start. legacy: kpis_latest, province codes as sent; 2025: kpis_latest_2025, a province
-- row the sum of its former provinces' counts (migration 0007), its rates and so its scores recomputed from
-- the sums, never averaged.
SELECT
    scope_id,
    period_start,
    provisional,
    20 * on_time_rate AS group2_progress,
    12 * online_completion_rate AS group3_online_service_estimate,
    10 * online_payment_rate AS group4_online_payment,
    6 * e_result_rate + 4 * digitization_rate AS group5_digitisation_items_4_1_4_2,
    least(6, 6 * satisfaction_rate / 0.9) AS group6_satisfaction_item_5_4
FROM
(
    SELECT * FROM kpis_latest WHERE %(hierarchy)s = 'legacy'
    UNION ALL
    SELECT * FROM kpis_latest_2025 WHERE %(hierarchy)s = '2025'
)
WHERE scope = %(scope)s AND period = %(period)s AND period_start = %(period_start)s AND to_process > 0
ORDER BY scope_id
