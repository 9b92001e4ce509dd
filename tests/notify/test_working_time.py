"""Quiet hours and escalation in simulated time (``--clock event``) against real servers: pages held at night go
at 07:00; an unacknowledged page climbs after 2 working hours; an acknowledgement, or the dossier finishing,
stops it. The event clock moves with the alerts read, so the tests move it with alerts of a unit whose head
(a JSON webhook, not counted) is the clock keeper."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import orjson
import pytest

from dossier.calendar import format_instant
from tests.notify.harness import Official, Paging, dossier_alert, ref, unit_alert, write_roster
from tests.notify.helpers import COMMUNE, JUSTICE, PROVINCE, at
from tests.notify.receivers import Mailbox, Webhook, deliveries, wait_until
from tests.sinks.pipeline import MOTCUA, batch_of, land

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

OPTIONS = ("--clock", "event", "--digest-window", "1", "--escalate", "unit_overdue_rate=never")
QUIET = 3.0  # seconds in which nothing may arrive (a digest window and a few scheduler turns)


def roster(paging: Paging, mailbox: Mailbox, webhook: Webhook) -> Official:
    officer = Official("cb-an", JUSTICE, "officer", mailbox.url("an@example.org"))
    write_roster(paging.tmp_path / "roster.csv", [
        officer,
        Official("cb-chi", JUSTICE, "unit_head", mailbox.url("chi@example.org")),
        Official("cb-office", PROVINCE, "province_office", mailbox.url("office@example.org")),
        Official("cb-keeper", COMMUNE, "unit_head", webhook.url("keeper")),
    ])
    return officer


def tick(paging: Paging, when: str) -> None:
    """Move the notifier's event clock to ``when`` (a unit alert of the clock keeper's unit)."""
    paging.send(unit_alert(COMMUNE, when))


def mail(mailbox: Mailbox) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for (alert_id, to), n in deliveries(mailbox).items():
        out.setdefault(to, []).extend([alert_id] * n)
    return {to: sorted(ids) for to, ids in out.items()}


def test_quiet_hours_hold_pages_and_release_them_at_07_00(paging: Paging, mailbox: Mailbox, webhook: Webhook) -> None:
    roster(paging, mailbox, webhook)
    evening = [dossier_alert("due_soon", f"D{i}", "2025-07-08T18:00", JUSTICE, "cb-an") for i in range(3)]
    paging.send(*evening)
    paging.notifier(paging.tmp_path / "roster.csv", *OPTIONS)
    wait_until(lambda: len(paging.rows("status = 'held'")) == 3, 30, "three held pages")
    assert {r["release_at"] for r in paging.rows()} == {at("2025-07-09T07:00")}
    tick(paging, "2025-07-09T06:59")
    time.sleep(QUIET)
    assert mail(mailbox) == {}
    tick(paging, "2025-07-09T07:00")
    wait_until(lambda: bool(mail(mailbox)), 30, "the held pages")
    time.sleep(QUIET)
    assert mail(mailbox) == {"an@example.org": sorted(ref(r) for r in evening)}
    assert len(mailbox.snapshot()) == 1  # one digest
    assert {(r["status"], r["sent_at"]) for r in paging.rows("kind = 'due_soon'")} == {("sent", at("2025-07-09T07:00"))}


def finished(dossier: str, when: str) -> bytes:
    """The sink's ``transitions`` row of a dossier that finished (as ``motcua sink`` lands it)."""
    return orjson.dumps({
        "schema": "dossier-transition/1", "transition_id": f"{dossier}:finished:{format_instant(at(when))}",
        "dossier_id": dossier, "kind": "finished", "at": format_instant(at(when)), "province": PROVINCE,
        "unit": JUSTICE, "procedure_code": "1.001193", "officer": None, "due_at": format_instant(at(when) + 86400),
        "outcome": "early", "end_type": "resolved"})


def test_escalation_fires_after_its_working_time_delay_and_an_ack_or_the_dossier_finishing_stops_it(
        paging: Paging, mailbox: Mailbox, webhook: Webhook, clickhouse_ready: dict[str, object]) -> None:
    officer = roster(paging, mailbox, webhook)
    ignored, acked, done = (dossier_alert("due_soon", d, "2025-07-08T10:30", JUSTICE, "cb-an") for d in "ABC")
    paging.send(ignored, acked, done)
    notifier = paging.notifier(paging.tmp_path / "roster.csv", *OPTIONS)
    wait_until(lambda: len(mail(mailbox).get("an@example.org", [])) == 3, 30, "the officer's pages")

    answer = paging.ack(ref(acked), by="cb-an")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == f"acknowledged {ref(acked)}"
    wait_until(lambda: paging.rows(f"alert_id = '{ref(acked)}' AND status = 'acked'") != [], 30, "the ack")
    unknown = paging.ack("due_soon:NOPE:2025-07-08T10:30:00+07:00")
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "alerts ack: no page has ref "
                                                               "due_soon:NOPE:2025-07-08T10:30:00+07:00")
    land({**clickhouse_ready, "database": paging.database}, paging.database,
         batch_of({"transitions": [(b"C", finished("C", "2025-07-08T11:00"))]}))

    tick(paging, "2025-07-08T14:29")  # 10:30 + 2 working hours is 14:30 (lunch 11:30-13:30 does not count)
    time.sleep(QUIET)
    assert "chi@example.org" not in mail(mailbox)
    tick(paging, "2025-07-08T14:30")
    wait_until(lambda: "chi@example.org" in mail(mailbox), 30, "the escalation to the unit head")
    tick(paging, "2025-07-08T16:29")
    time.sleep(QUIET)
    assert mail(mailbox) == {"an@example.org": sorted(map(ref, (ignored, acked, done))),
                             "chi@example.org": [ref(ignored)]}
    (to_head,) = [r for r in mailbox.snapshot() if r.to == "chi@example.org"]
    assert to_head.subject == "[motcua] Chuyển cấp: 1 hồ sơ đến hạn hôm nay"
    tick(paging, "2025-07-08T16:30")  # the unit head did not acknowledge either: the province office
    wait_until(lambda: "office@example.org" in mail(mailbox), 30, "the escalation to the province office")
    time.sleep(QUIET)
    assert mail(mailbox)["office@example.org"] == [ref(ignored)]

    rows = {(r["alert_id"].split(":")[1], r["recipient"]): r for r in paging.rows("kind = 'due_soon'")}
    statuses = sorted((k[0], r["status"], r["level"], r["route"]) for k, r in rows.items())
    assert statuses == [("A", "escalated", 0, "officer"), ("A", "escalated", 1, "escalation"),
                        ("A", "sent", 2, "escalation"), ("B", "acked", 0, "officer"), ("C", "resolved", 0, "officer")]
    (b_row,) = [r for r in rows.values() if r["status"] == "acked"]
    assert b_row["acked_by"] == officer.recipient
    assert notifier.health()["escalations"] == 2


def test_the_signed_link_in_a_page_acknowledges_it_and_alerts_tail_shows_the_log(
        paging: Paging, mailbox: Mailbox, webhook: Webhook) -> None:
    officer = roster(paging, mailbox, webhook)
    record = dossier_alert("due_soon", "L1", "2025-07-08T09:00", JUSTICE, "cb-an")
    paging.send(record)
    notifier = paging.notifier(paging.tmp_path / "roster.csv", *OPTIONS)
    wait_until(lambda: bool(mailbox.snapshot()), 30, "the page")
    (page,) = mailbox.snapshot()
    link = re.search(r"http://\S+/ack\?\S+", page.body)
    assert link is not None
    with urllib.request.urlopen(link.group(0), timeout=10) as shown:  # a GET only shows the form
        assert shown.status == 200 and "Xác nhận đã nhận" in shown.read().decode()
    assert paging.rows("status = 'acked'") == []
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link.group(0)).query))
    forged = urllib.parse.urlencode({**query, "r": "someone-else"}).encode()
    with pytest.raises(urllib.error.HTTPError, match="403"):
        urllib.request.urlopen(f"http://127.0.0.1:{notifier.port}/ack", data=forged, timeout=10)
    with urllib.request.urlopen(f"http://127.0.0.1:{notifier.port}/ack", data=urllib.parse.urlencode(query).encode(),
                                timeout=10) as done:
        assert "Đã xác nhận 1 cảnh báo" in done.read().decode()
    wait_until(lambda: paging.rows("status = 'acked'") != [], 30, "the acknowledgement")
    (row,) = paging.rows(f"alert_id = '{ref(record)}'")
    assert (row["acked_by"], row["acked_at"]) == (officer.recipient, at("2025-07-08T09:00"))
    tick(paging, "2025-07-08T11:00")  # past the escalation deadline: nothing more
    time.sleep(QUIET)
    assert [r.to for r in mailbox.snapshot()] == ["an@example.org"]

    shown = subprocess.run([MOTCUA, "alerts", "tail", "--database", paging.database, "--no-follow"],
                           capture_output=True, text=True, timeout=60)
    lines = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [(r["status"], r["ref"]) for r in lines if r["kind"] == "due_soon"] == [
        ("queued", ref(record)), ("sent", ref(record)), ("acked", ref(record))]
