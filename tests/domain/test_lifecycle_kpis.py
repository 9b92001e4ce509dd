"""Dossier lifecycles and the KPI counts they produce (DOMAIN.md sections 2 to 4 and 8), case by case."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
import pytest

from audit.eventfile import read_event_lines
from audit.kpi_report import kpi_table
from dossier.calendar import default_calendar
from dossier.contract import decode_event
from dossier.lifecycle import in_state_machine_order, summarize

CAL = default_calendar()
ACCEPT = {"online_level": "full", "channel": 2, "due_at": "2025-07-10T10:00:00+07:00"}


def ev(kind: str, at: str, event_id: str | None = None, dossier: str = "D1", **fields: Any) -> dict[str, Any]:
    return {
        "schema": "dossier-event/1",
        "event_id": event_id or f"{kind}@{at}",
        "dossier_id": dossier,
        "type": kind,
        "occurred_at": at + "+07:00",
        "source": "test",
        "province": "79",
        "unit": "U1",
        "procedure_code": "P1",
        **(ACCEPT if kind == "accepted" else {}),
        **fields,
    }


def month_row(events: list[dict[str, Any]], month: date = date(2025, 7, 1)) -> dict[str, Any] | None:
    log = read_event_lines(b"\n".join(orjson.dumps(e) for e in events), lambda n, v: pytest.fail(str(v)))
    end = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    rows = kpi_table(log, "month", month, end, CAL).rows("province")
    return rows[0] if rows else None


def counts(row: dict[str, Any] | None, *names: str) -> tuple[int, ...]:
    assert row is not None
    return tuple(row[name] for name in names)


def test_a_pause_saves_a_dossier():
    # due Thu 10/07 10:00; resolved Sat 12/07 09:00 would be late, but the applicant took 48 hours:
    # the adjusted end is Thu 10/07 09:00, on time
    events = [
        ev("accepted", "2025-07-07T09:00:00"),
        ev("supplement_requested", "2025-07-07T10:00:00"),
        ev("supplement_received", "2025-07-09T10:00:00"),
        ev("resolved", "2025-07-12T09:00:00", electronic_result=True),
    ]
    assert counts(month_row(events), "finished_on_time", "finished_late") == (1, 0)
    assert counts(month_row(events[:1] + events[3:]), "finished_on_time", "finished_late") == (0, 1)


def test_two_requests_make_a_dossier_late_whatever_its_times():
    events = [
        ev("accepted", "2025-07-07T09:00:00"),
        ev("supplement_requested", "2025-07-07T10:00:00"),
        ev("supplement_received", "2025-07-07T11:00:00"),
        ev("supplement_requested", "2025-07-07T14:00:00"),
        ev("supplement_received", "2025-07-07T15:00:00"),
        ev("resolved", "2025-07-07T16:00:00", electronic_result=False),
    ]
    assert counts(month_row(events), "finished_early", "finished_late", "satisfaction_failed_finished") == (0, 1, 1)


def test_requests_before_acceptance_or_after_the_end_do_not_count():
    events = [
        ev("supplement_requested", "2025-07-07T08:00:00"),
        ev("accepted", "2025-07-07T09:00:00"),
        ev("resolved", "2025-07-07T16:00:00", electronic_result=False),
        ev("supplement_requested", "2025-07-08T10:00:00"),
        ev("supplement_requested", "2025-07-08T11:00:00"),
    ]
    assert counts(month_row(events), "finished_early", "finished_late") == (1, 0)


def test_carried_over_dossiers():
    events = [ev("accepted", "2025-06-30T09:00:00"), ev("resolved", "2025-07-02T09:00:00", electronic_result=True)]
    assert counts(month_row(events), "received", "carried_over", "to_process", "finished") == (0, 1, 1, 1)
    june = month_row(events, date(2025, 6, 1))
    assert counts(june, "received", "finished", "open_within_due", "open_due_soon") == (1, 0, 1, 0)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([ev("rejected", "2025-07-07T08:00:00")], None),  # refused at intake: never counted
        (
            [ev("rejected", "2025-07-07T08:00:00"), ev("accepted", "2025-07-07T09:00:00")],
            (1, 0, 0),  # the refusal before the acceptance is ignored: the dossier is open
        ),
        (
            [ev("accepted", "2025-07-07T09:00:00"), ev("rejected", "2025-07-08T09:00:00")],
            (1, 1, 0),  # refused after acceptance: finished early, without a result
        ),
    ],
)
def test_rejected_before_and_after_acceptance(events, expected):
    row = month_row(events)
    if expected is None:
        assert row is None
    else:
        assert counts(row, "to_process", "finished", "result_finished") == expected


@pytest.mark.parametrize(("apology_at", "timely"), [("2025-07-09T10:00:00", 1), ("2025-07-09T15:00:00", 0)])
def test_apology_in_time_and_too_late(apology_at, timely):
    events = [
        ev("accepted", "2025-07-07T09:00:00"),
        ev("apology_issued", apology_at, due_at="2025-07-15T10:00:00+07:00"),
        ev("resolved", "2025-07-14T09:00:00", electronic_result=True),
    ]
    row = month_row(events)
    assert counts(row, "finished_late", "late_finished_with_timely_apology") == (1, timely)
    assert row["apology_compliance_rate"] == timely


def test_duplicates_first_received_wins_whatever_its_content():
    events = [
        ev("accepted", "2025-07-07T09:00:00", event_id="a"),
        ev("resolved", "2025-07-08T09:00:00", event_id="r", electronic_result=True),
        ev("resolved", "2025-07-20T09:00:00", event_id="r", electronic_result=False),  # same id: ignored
    ]
    row = month_row(events)
    assert counts(row, "finished_early", "finished_late", "e_result_finished") == (1, 0, 1)


def test_out_of_order_arrival_is_ordered_by_event_time():
    in_order = [
        ev("accepted", "2025-07-07T09:00:00"),
        ev("accepted", "2025-07-07T10:00:00", channel=1, online_level="none", fee=5000),  # a second one: ignored
        ev("supplement_requested", "2025-07-08T09:00:00"),
        ev("supplement_received", "2025-07-09T09:00:00"),
        ev("resolved", "2025-07-10T09:00:00", electronic_result=True),
        ev("returned", "2025-07-10T11:00:00", return_channel=2),
        ev("rated", "2025-07-11T09:00:00", rating="dissatisfied"),
    ]
    shuffled = [in_order[i] for i in (6, 4, 2, 0, 5, 3, 1)]
    assert month_row(shuffled) == month_row(in_order)
    row = month_row(in_order)
    assert counts(row, "online_received", "fee_received", "full_online_finished", "satisfaction_failed_finished") == (
        1,
        0,
        1,
        1,
    )


def test_end_events_before_the_acceptance_are_ignored_and_later_ones_do_not_move_the_end():
    events = [
        ev("resolved", "2025-07-07T08:00:00", electronic_result=True),
        ev("accepted", "2025-07-07T09:00:00"),
        ev("stopped", "2025-07-08T09:00:00"),
        ev("resolved", "2025-07-20T09:00:00", electronic_result=True),
    ]
    parsed = [decode_event(orjson.dumps(e)) for e in events]
    summary = summarize(in_state_machine_order(parsed), CAL)
    assert summary is not None
    assert (summary.end_type, summary.outcome) == ("stopped", "early")
    assert summary.e_result_ts == parsed[3].occurred_ts  # a later result still tells how it was delivered


def test_fees_and_online_payments():
    events = [
        ev("submitted", "2025-07-07T08:00:00", online_level="full", channel=2, fee=20000),
        ev("accepted", "2025-07-07T09:00:00", fee=0),  # a later 0 does not cancel the fee
        ev("payment_completed", "2025-07-07T09:30:00", paid_online=True),
    ]
    assert counts(month_row(events), "fee_received", "paid_online_received") == (1, 1)
    assert month_row(events)["online_payment_rate"] == 1.0


def test_a_withdrawal_while_waiting_keeps_the_standing_at_the_request():
    events = [
        ev("accepted", "2025-07-07T09:00:00"),
        ev("supplement_requested", "2025-07-08T09:00:00"),
        ev("withdrawn", "2025-07-30T09:00:00"),
    ]
    assert counts(month_row(events), "finished_early", "finished_late", "result_finished") == (1, 0, 0)


def test_open_dossiers_are_classified_at_the_period_end():
    events = [
        ev("accepted", "2025-07-07T09:00:00", dossier="late"),
        ev("accepted", "2025-07-30T09:00:00", dossier="soon", due_at="2025-08-01T10:00:00+07:00"),
        ev("accepted", "2025-07-30T09:00:00", dossier="fine", due_at="2025-08-08T10:00:00+07:00"),
    ]
    row = month_row(events)
    assert counts(row, "open_overdue", "open_within_due", "open_due_soon") == (1, 2, 1)  # 3 h left at E
    assert row["on_time_rate"] == pytest.approx(2 / 3)
    assert row["overdue_rate"] == pytest.approx(1 / 3)
