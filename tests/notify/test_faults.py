"""Delivery that survives crashes and outages, against real servers: SIGKILL of the notifier in the middle of
deliveries (twice) then restarts, a rebalance between two notifiers, the SMTP server down (10 s here, 30 s
with MOTCUA_TEST_OUTAGE_SECONDS=30), and a channel that never answers (fail over to the next level and the
DLQ). Counted at the receivers: every (ref, recipient) exactly once."""

from __future__ import annotations

import os
import random
import time
from collections import Counter

import orjson
import pytest
from kafka import KafkaConsumer

from tests.notify.harness import Official, Paging, dossier_alert, ref, write_roster
from tests.notify.helpers import JUSTICE, PROVINCE
from tests.notify.receivers import Mailbox, Webhook, deliveries, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

NEVER = "due_soon=never,overdue=never,unit_overdue_rate=never"


def officers(mailbox: Mailbox, n: int) -> list[Official]:
    return [Official(f"cb-{i:03d}", JUSTICE, "officer", mailbox.url(f"o{i:03d}@example.org")) for i in range(n)]


def alerts_for(people: list[Official], per_person: int, minute: str = "09") -> list[bytes]:
    return [dossier_alert("due_soon", f"D{i:03d}-{k}", f"2025-07-08T{minute}:{k:02d}", JUSTICE, o.official_id)
            for i, o in enumerate(people) for k in range(per_person)]


def expected(people: list[Official], records: list[bytes]) -> Counter[tuple[str, str]]:
    by_official = {o.official_id: f"o{o.official_id[3:]}@example.org" for o in people}
    return Counter({(ref(r), by_official[f"cb-{ref(r).split(':')[1][1:4]}"]): 1 for r in records})


def settled(paging: Paging, pages: int) -> None:
    """Every page's latest row says sent (a message's row lands just after the server accepted it)."""
    try:
        wait_until(lambda: Counter(r["status"] for r in paging.rows()) == {"sent": pages}, 15, "")
    except AssertionError:
        raise AssertionError(f"not recorded as sent: {[r for r in paging.rows() if r['status'] != 'sent']}") from None


def test_sigkill_in_the_middle_of_deliveries_then_restart_loses_no_page_and_sends_no_ref_twice(
        paging: Paging, mailbox: Mailbox) -> None:
    people = officers(mailbox, 60)
    roster = write_roster(paging.tmp_path / "roster.csv", people)
    records = alerts_for(people, 2)
    options = ("--clock", "event", "--digest-window", "0.5", "--escalate", NEVER)
    mailbox.allow(0)  # every message waits in DATA
    first = paging.notifier(roster, *options)
    paging.send(*records)
    time.sleep(random.uniform(0.2, 1.5))  # somewhere in admission and the first deliveries
    first.kill()
    second = paging.notifier(roster, *options)
    wait_until(lambda: mailbox.waiting >= 4, 60, "deliveries in the middle")
    mailbox.allow(20)
    wait_until(lambda: len(mailbox.snapshot()) == 20, 60, "20 accepted messages")
    accepted = sum(deliveries(mailbox).values())
    wait_until(lambda: len(paging.rows("status = 'sent'")) == accepted, 30, "the accepted pages to be recorded")
    assert mailbox.waiting >= 1  # still messages in the middle of their delivery
    second.kill()
    paging.notifier(roster, *options)
    mailbox.allow(None)
    wait_until(lambda: sum(deliveries(mailbox).values()) >= len(records), 90, "every page")
    time.sleep(2)
    assert deliveries(mailbox) == expected(people, records)
    settled(paging, len(records))


def test_a_rebalance_between_two_notifiers_loses_no_page_and_sends_none_twice(
        paging: Paging, mailbox: Mailbox) -> None:
    people = officers(mailbox, 30)
    roster = write_roster(paging.tmp_path / "roster.csv", people)
    options = ("--clock", "event", "--digest-window", "0.3", "--escalate", NEVER)
    one = paging.notifier(roster, *options)
    early, late = alerts_for(people, 2, "09"), alerts_for(people, 2, "10")
    paging.send(*early)
    two = paging.notifier(roster, *options)  # joins the group: partitions move while pages go out
    wait_until(lambda: len(one.health()["owned_partitions"]) < 3 and bool(two.health()["owned_partitions"]), 60,
               "the partitions to be shared")
    paging.send(*late)
    wait_until(lambda: sum(deliveries(mailbox).values()) >= len(early + late), 90, "every page")
    one.stop()  # and back: every partition to the second notifier
    time.sleep(3)
    assert deliveries(mailbox) == expected(people, early + late)
    settled(paging, len(early + late))


def test_with_the_smtp_server_down_everything_is_delivered_afterwards(paging: Paging, mailbox: Mailbox) -> None:
    """Down for MOTCUA_TEST_OUTAGE_SECONDS (10 s by default, to keep the suite short; the issue's 30 s run is
    `MOTCUA_TEST_OUTAGE_SECONDS=30 pytest tests/notify/test_faults.py`)."""
    people = officers(mailbox, 10)
    roster = write_roster(paging.tmp_path / "roster.csv", people)
    records = alerts_for(people, 3)
    mailbox.stop()
    paging.notifier(roster, "--clock", "event", "--digest-window", "0.5", "--escalate", NEVER, "--attempts", "30",
                    "--retry-first", "0.5", "--retry-max", "4")
    paging.send(*records)
    down_until = time.monotonic() + float(os.environ.get("MOTCUA_TEST_OUTAGE_SECONDS", "10"))
    wait_until(lambda: bool(paging.rows("attempts >= 3")), 30, "failed attempts")
    time.sleep(max(0.0, down_until - time.monotonic()))
    retrying = paging.rows()
    assert {r["status"] for r in retrying} == {"queued"} and len(retrying) == len(records)
    assert all(r["error"] == "mailto: not accepted (failure)" for r in retrying)
    mailbox.start()
    wait_until(lambda: sum(deliveries(mailbox).values()) >= len(records), 30, "every page after the outage")
    time.sleep(2)
    assert deliveries(mailbox) == expected(people, records)
    assert len(mailbox.snapshot()) == len(people)  # still one digest per officer
    settled(paging, len(records))
    assert _dlq(paging) == []


def _dlq(paging: Paging) -> list[tuple[dict[str, object], dict[str, bytes]]]:
    consumer = KafkaConsumer(f"{paging.prefix}dossier.notify-dlq", bootstrap_servers=paging.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000)
    try:
        return [(orjson.loads(m.value), dict(m.headers)) for m in consumer]
    finally:
        consumer.close()


def test_a_channel_that_never_accepts_fails_over_to_the_next_level_and_the_dlq(
        paging: Paging, mailbox: Mailbox, webhook: Webhook) -> None:
    broken = Official("cb-broken", JUSTICE, "officer", "json://127.0.0.1:9/hook")  # nothing listens on port 9
    roster = write_roster(paging.tmp_path / "roster.csv", [
        broken, Official("cb-head", JUSTICE, "unit_head", mailbox.url("head@example.org")),
        Official("cb-office", PROVINCE, "province_office", mailbox.url("office@example.org"))])
    record = dossier_alert("due_soon", "D1", "2025-07-08T09:00", JUSTICE, "cb-broken")
    paging.send(record)
    paging.notifier(roster, "--clock", "event", "--digest-window", "0", "--attempts", "3", "--retry-first", "0.2")
    wait_until(lambda: bool(mailbox.snapshot()), 30, "the page at the next level")
    time.sleep(1)
    assert deliveries(mailbox) == {(ref(record), "head@example.org"): 1}
    rows = {r["recipient"]: r for r in paging.rows()}
    failed = rows[broken.recipient]
    assert (failed["status"], failed["attempts"], failed["escalated_to"]) == ("failed", 3, Official(
        "cb-head", "", "", "").recipient)
    ((value, headers),) = _dlq(paging)
    assert value["alert_id"] == ref(record) and value["recipient"] == broken.recipient and value["channel"] == "json"
    assert headers["motcua.errors.stage"] == b"deliver" and headers["motcua.errors.source"] == b"notify"
    assert headers["motcua.errors.reason"] == b"json: not accepted (failure)"
    assert b"127.0.0.1:9" not in orjson.dumps(value)  # the address never reaches Kafka
