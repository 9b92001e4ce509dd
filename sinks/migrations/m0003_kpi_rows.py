"""KPI rows (``kpi-row/1``): the fields of DOMAIN.md section 7, plus ``provisional`` and ``watermark``.

Key: (scope, scope_id, period, period_start). The row kept is the one with the greatest watermark, ties
going to the later record of the key (higher offset; a key lives in one partition):
``_version`` = watermark seconds << 32 | low 32 bits of the offset. ``kpis_latest`` picks that row per key
by ``argMax`` (exact before merges) and recomputes every rate from the counts, so roll-ups and readers
never depend on stored floats; a zero denominator gives NULL, never 0.

Order: scope, period and period start first, so "every province today" is one contiguous range.
"""

STATEMENTS = (
    """
    CREATE TABLE IF NOT EXISTS {db}.kpis (
        scope String,
        scope_id String,
        period String,
        period_start Date,
        received UInt32,
        carried_over UInt32,
        to_process UInt32,
        finished UInt32,
        finished_early UInt32,
        finished_on_time UInt32,
        finished_late UInt32,
        result_finished UInt32,
        open_overdue UInt32,
        open_within_due UInt32,
        open_due_soon UInt32,
        online_received UInt32,
        full_online_finished UInt32,
        full_online_eligible_finished UInt32,
        e_result_finished UInt32,
        digitized_received UInt32,
        fee_received UInt32,
        paid_online_received UInt32,
        satisfaction_failed_finished UInt32,
        late_finished_with_timely_apology UInt32,
        on_time_rate Nullable(Float64),
        overdue_rate Nullable(Float64),
        online_rate Nullable(Float64),
        online_completion_rate Nullable(Float64),
        e_result_rate Nullable(Float64),
        digitization_rate Nullable(Float64),
        online_payment_rate Nullable(Float64),
        satisfaction_rate Nullable(Float64),
        apology_compliance_rate Nullable(Float64),
        provisional UInt8,
        watermark DateTime('Asia/Ho_Chi_Minh'),
        _topic String,
        _partition UInt32,
        _offset UInt64,
        _timestamp DateTime('Asia/Ho_Chi_Minh'),
        _inserted_at DateTime('Asia/Ho_Chi_Minh') DEFAULT now(),
        _version UInt64 DEFAULT bitOr(bitShiftLeft(toUInt64(watermark), 32), bitAnd(_offset, 4294967295))
    ) ENGINE = ReplacingMergeTree(_version)
    PARTITION BY toYear(period_start)
    ORDER BY (scope, period, period_start, scope_id)
    """,
    """
    CREATE VIEW IF NOT EXISTS {db}.kpis_latest AS
    SELECT
        *,
        if(to_process = 0, NULL, (finished_early + finished_on_time + open_within_due) / to_process) AS on_time_rate,
        if(to_process = 0, NULL, (finished_late + open_overdue) / to_process) AS overdue_rate,
        if(received = 0, NULL, (online_received) / received) AS online_rate,
        if(full_online_eligible_finished = 0, NULL,
           (full_online_finished) / full_online_eligible_finished) AS online_completion_rate,
        if(result_finished = 0, NULL, (e_result_finished) / result_finished) AS e_result_rate,
        if(received = 0, NULL, (digitized_received) / received) AS digitization_rate,
        if(fee_received = 0, NULL, (paid_online_received) / fee_received) AS online_payment_rate,
        if(finished = 0, NULL, (finished - satisfaction_failed_finished) / finished) AS satisfaction_rate,
        if(finished_late = 0, NULL, (late_finished_with_timely_apology) / finished_late) AS apology_compliance_rate
    FROM (
        SELECT
            scope,
            scope_id,
            period,
            period_start,
            argMax(received, _version) AS received,
            argMax(carried_over, _version) AS carried_over,
            argMax(to_process, _version) AS to_process,
            argMax(finished, _version) AS finished,
            argMax(finished_early, _version) AS finished_early,
            argMax(finished_on_time, _version) AS finished_on_time,
            argMax(finished_late, _version) AS finished_late,
            argMax(result_finished, _version) AS result_finished,
            argMax(open_overdue, _version) AS open_overdue,
            argMax(open_within_due, _version) AS open_within_due,
            argMax(open_due_soon, _version) AS open_due_soon,
            argMax(online_received, _version) AS online_received,
            argMax(full_online_finished, _version) AS full_online_finished,
            argMax(full_online_eligible_finished, _version) AS full_online_eligible_finished,
            argMax(e_result_finished, _version) AS e_result_finished,
            argMax(digitized_received, _version) AS digitized_received,
            argMax(fee_received, _version) AS fee_received,
            argMax(paid_online_received, _version) AS paid_online_received,
            argMax(satisfaction_failed_finished, _version) AS satisfaction_failed_finished,
            argMax(late_finished_with_timely_apology, _version) AS late_finished_with_timely_apology,
            argMax(provisional, _version) AS provisional,
            argMax(watermark, _version) AS watermark
        FROM {db}.kpis
        GROUP BY scope, scope_id, period, period_start
    )
    """,
)
