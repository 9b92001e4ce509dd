"""Delivery against real servers: ``motcua notify`` on the local Kafka and ClickHouse, an SMTP server (aiosmtpd)
and a JSON webhook (aiohttp) on 127.0.0.1, counting what arrives at them."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from dossier.calendar import format_instant
from tests.notify.harness import Official, Paging, dossier_alert, ref, unit_alert, write_roster
from tests.notify.helpers import FINANCE, JUSTICE, PROVINCE
from tests.notify.receivers import Mailbox, Webhook, deliveries, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

NO_ESCALATION = ("--escalate", "due_soon=never,overdue=never,unit_overdue_rate=never")


def officials(mailbox: Mailbox, webhook: Webhook) -> dict[str, Official]:
    return {
        "an": Official("cb-an", JUSTICE, "officer", mailbox.url("an@example.org"), "Nguyễn Văn An"),
        "binh": Official("cb-binh", JUSTICE, "officer", mailbox.url("binh@example.org")),
        "head": Official("cb-head", JUSTICE, "unit_head", webhook.url("head")),
        "office": Official("cb-office", PROVINCE, "province_office", mailbox.url("office@example.org")),
        "oncall": Official("cb-oncall", "*", "on_call", webhook.url("oncall")),
    }


def test_every_routed_alert_arrives_once_per_recipient_in_digests_and_a_replay_sends_nothing(
        paging: Paging, mailbox: Mailbox, webhook: Webhook) -> None:
    people = officials(mailbox, webhook)
    roster = write_roster(paging.tmp_path / "roster.csv", list(people.values()))
    own = [dossier_alert("due_soon", f"D-AN-{i}", f"2025-07-08T09:0{i}", JUSTICE, "cb-an") for i in range(7)]
    own += [dossier_alert("overdue", f"D-OV-{i}", "2025-07-08T09:05", JUSTICE, "cb-an") for i in range(2)]
    unit = [dossier_alert("due_soon", f"D-U-{i}", "2025-07-08T09:06", JUSTICE, "cb-gone") for i in range(3)]
    unrouted = [dossier_alert("due_soon", f"D-F-{i}", "2025-07-08T09:07", FINANCE) for i in range(2)]
    rate = unit_alert(JUSTICE, "2025-07-08T09:08")
    paging.send(*own, *unit, *unrouted, rate)
    notifier = paging.notifier(roster, "--clock", "event", "--digest-window", "2", *NO_ESCALATION)

    expected = Counter({(ref(r), "an@example.org"): 1 for r in own + unit})
    expected.update({(ref(r), "binh@example.org"): 1 for r in unit})
    expected.update({(ref(r), "office@example.org"): 1 for r in unrouted})
    expected.update({(ref(rate), "head"): 1})
    wait_until(lambda: sum(deliveries(mailbox, webhook).values()) >= sum(expected.values()), 60, "every page")
    time.sleep(3)  # anything more would arrive within a digest window
    assert deliveries(mailbox, webhook) == expected

    mails = Counter(r.to for r in mailbox.snapshot())
    assert mails == {"an@example.org": 1, "binh@example.org": 1, "office@example.org": 1}  # digests
    to_an = next(r for r in mailbox.snapshot() if r.to == "an@example.org")
    assert to_an.subject == "[motcua] 10 hồ sơ đến hạn hôm nay, 2 hồ sơ đã quá hạn"
    assert "Kính gửi Nguyễn Văn An" in to_an.body and "hạn trả kết quả: 09:00 ngày 09/07/2025" in to_an.body
    assert "Đăng ký khai sinh (1.001193)" in to_an.body and "/ack?m=" in to_an.body
    (to_head,) = webhook.snapshot()
    assert "vượt ngưỡng 20%" in to_head.body

    health = notifier.health()
    assert (health["unrouted"], health["messages"], health["pages_sent"]) == (2, 4, 18)
    rows = paging.rows()
    assert Counter(r["status"] for r in rows) == {"sent": 18}
    assert {r["route"] for r in rows if "D-F-" in r["alert_id"]} == {"fallback"}
    assert {r["channel"] for r in rows} == {"mailto", "json"}
    assert not any("example.org" in str(v) for r in rows for v in r.values())  # no address in ClickHouse

    notifier.stop()
    paging.send(*own, *unit, *unrouted, rate)  # the same alerts again in the log
    replay = paging.notifier(roster, "--clock", "event", "--digest-window", "2", *NO_ESCALATION,
                             group="notify-replay")  # a new group: reads the whole log from the start
    wait_until(lambda: replay.health().get("duplicates", 0) >= 2 * 15, 60, "the replay to be read")
    time.sleep(3)
    assert deliveries(mailbox, webhook) == expected
    assert replay.health().get("pages_sent", 0) == 0


def test_grafanas_webhook_pages_whoever_is_on_call_and_bad_payloads_get_a_400(
        paging: Paging, mailbox: Mailbox, webhook: Webhook) -> None:
    roster = write_roster(paging.tmp_path / "roster.csv", list(officials(mailbox, webhook).values()))
    notifier = paging.notifier(roster, "--digest-window", "0")  # the wall clock: Grafana's alerts wake people
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    payload = {"receiver": "motcua-notify", "status": "firing", "alerts": [{
        "status": "firing", "labels": {"alertname": "Pipeline stalled", "motcua_kind": "pipeline"},
        "annotations": {"summary": "Không có sự kiện mới trong 10 phút giờ làm việc"},
        "startsAt": started.strftime("%Y-%m-%dT%H:%M:%SZ"), "fingerprint": "abc123"}]}
    status, answer = notifier.post("/grafana", orjson.dumps(payload))
    assert (status, answer) == (202, {"accepted": 1})
    notifier.post("/grafana", orjson.dumps(payload))  # Grafana repeats a firing alert: the same alert
    wait_until(lambda: len(webhook.snapshot()) >= 1, 30, "the on-call page")
    time.sleep(2)
    (page,) = webhook.snapshot()
    assert page.to == "oncall"
    assert page.refs == [f"grafana:Pipeline-stalled:abc123:{format_instant(started.timestamp())}"]
    assert "Không có sự kiện mới trong 10 phút" in page.body

    bad = {"alerts": [{"status": "firing", "labels": {}, "startsAt": "yesterday"}]}
    status, answer = notifier.post("/grafana", orjson.dumps(bad))
    assert status == 400
    assert answer == {"errors": [{"field": "alerts[0].labels.alertname", "reason": "missing"}]}
    status, answer = notifier.post("/grafana", b"{")
    assert status == 400 and answer["errors"][0]["field"] == ""
