"""The notifier's commands without a service: ``motcua notify roster check`` and a roster the service refuses."""

from __future__ import annotations

import mailbox
import os
import subprocess
from email.message import EmailMessage
from pathlib import Path

from notify.demo import DemoPaging
from tests.notify.harness import KEY, dossier_alert, unit_alert
from tests.notify.helpers import COMMUNE, FINANCE, JUSTICE
from tests.sinks.pipeline import MOTCUA

GOOD = """official_id,unit,role,name,notify_url
cb-1,000.00.01.H79,officer,"Nguyễn Văn An",mailto://127.0.0.1:2525?to=an@example.org&from=notify@example.org
cb-2,000.00.01.H79,unit_head,Trần Thị Bình,json://127.0.0.1:8080/hook
cb-3,79,province_office,Văn phòng,ntfy://motcua-79
cb-4,*,on_call,Trực ban,tgram://123456789:ABCdefGhIJKlmnOPQRstuVWXyz/12345
"""


def check(roster: Path, alerts: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MOTCUA, "notify", "roster", "check", str(roster), "--alerts", str(alerts)],
                          capture_output=True, text=True, timeout=60)


def test_roster_check_passes_a_good_roster_and_names_every_problem_of_a_bad_one(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_bytes(dossier_alert("due_soon", "D1", "2025-07-08T09:00", JUSTICE) + b"\n")
    roster = tmp_path / "roster.csv"
    roster.write_text(GOOD, encoding="utf-8")
    done = check(roster, alerts)
    assert (done.returncode, done.stdout) == (0, "4 lines, 1 units seen in alerts, 0 problems\n")

    alerts.write_bytes(b"\n".join([dossier_alert("overdue", "D2", "2025-07-08T09:00", FINANCE),
                                   unit_alert(COMMUNE, "2025-07-08T09:00")]) + b"\n")
    roster.write_text(GOOD.replace("ntfy://", "nosuch://").replace("*,on_call", "*,chief"), encoding="utf-8")
    done = check(roster, alerts)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{roster}: line 5: role 'chief' is not one of officer, unit_head, province_office, on_call",
        f"{roster}: line 4: notify_url does not parse as an Apprise URL (scheme nosuch)",
        f"{roster}: unit {FINANCE} (province 79) has dossier alerts but no officer or unit_head",
        f"{roster}: unit {COMMUNE} (province 79) has unit_overdue_rate alerts but no unit_head",
        f"{roster}: no on_call line: the pipeline's own alerts (Grafana) would reach no one",
        "3 lines, 2 units seen in alerts, 5 problems",
    ]


def test_the_demo_roster_passes_the_check(tmp_path: Path) -> None:
    paging = DemoPaging(tmp_path, ["01", "79"])
    try:
        alerts = tmp_path / "alerts.jsonl"
        alerts.write_bytes(dossier_alert("due_soon", "D1", "2025-07-08T09:00", JUSTICE) + b"\n")
        done = check(paging.roster, alerts)
        assert (done.returncode, done.stdout.splitlines()[-1]) == (0, "95 lines, 1 units seen in alerts, 0 problems")
    finally:
        paging.stop()


def test_the_service_refuses_a_malformed_roster_naming_the_line(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(GOOD + "cb-5,000.00.01.H79,officer\n", encoding="utf-8")
    done = subprocess.run([MOTCUA, "notify", "--roster", str(roster)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MOTCUA_HMAC_KEY": KEY})
    assert (done.returncode, done.stderr.strip()) == (2, "notify: line 6: 3 fields, expected 5")


def test_alerts_tail_shows_the_pages_of_a_mailbox(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "mailbox")  # what the demo's aiosmtpd Mailbox handler writes
    message = EmailMessage()
    message["Subject"], message["To"] = "[motcua] 1 hồ sơ đến hạn hôm nay", "cb@motcua.demo"
    message["Date"] = "Tue, 08 Jul 2025 09:00:00 +0700"
    message.set_content("Kính gửi Cán bộ,\n\nref: due_soon:D1:2025-07-08T09:00:00+07:00\n")
    box.add(message)
    shown = subprocess.run([MOTCUA, "alerts", "tail", "--mailbox", str(tmp_path / "mailbox"), "--no-follow"],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[:2] == ["--- Tue, 08 Jul 2025 09:00:00 +0700  to cb@motcua.demo",
                                             "[motcua] 1 hồ sơ đến hạn hôm nay"]
    assert "ref: due_soon:D1:2025-07-08T09:00:00+07:00" in shown.stdout
