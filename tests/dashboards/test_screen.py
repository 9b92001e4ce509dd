"""`motcua screen` in a real browser: Debian's headless chromium, driven by Playwright, loads every dashboard
on pipeline data (the sink tests' landing in ClickHouse 18.16); the numbers shown are what `motcua kpi`
prints for the same range and scope, no panel fails and the console stays clean.

Set ``MOTCUA_SCREENSHOTS=docs/screens`` to keep the screenshots (the README shows them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, sync_playwright

from dashboards.check import shared_source
from dashboards.panels import RATES
from dashboards.provisioning import dashboard_json
from dashboards.screens import UIDS
from stack.services import free_port
from tests.dashboards.kpi import kpi_rows, rollup
from tests.sinks.pipeline import MOTCUA, wait_until
from tests.sinks.test_queries import DAY, FIRST, Landed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime.combine(DAY, time(0), LOCAL)
RANGE = f"from={int(START.timestamp() * 1000)}&to={int((START + timedelta(days=1)).timestamp() * 1000) - 1}"


class Screen:
    def __init__(self, base: str, page: Page, landed: Landed, events: Path, shots: Path) -> None:
        self.base, self.page, self.landed, self.events, self.shots = base, page, landed, events, shots
        self.console: list[str] = []
        self.queried: list[int] = []  # the panel ids the page asked /api/query for
        page.on("console", lambda m: self.console.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: self.queried.append(r.post_data_json["panel"])
                if r.url.endswith("/api/query") else None)
        page.on("pageerror", lambda e: self.console.append(f"page error: {e}"))

    def open(self, uid: str, query: str = "", time_range: str = RANGE) -> dict[str, dict[str, Any]]:
        """Load a dashboard, wait until every panel answered; title -> what the panel shows."""
        self.queried.clear()
        self.page.goto(f"{self.base}/d/{uid}?{time_range}{query}")
        self.page.wait_for_function("document.body.dataset.refreshed", timeout=60_000)
        return self.panels()

    def panels(self) -> dict[str, dict[str, Any]]:
        return {p["title"]: p for p in self.page.eval_on_selector_all("section.panel", """els => els.map(e => ({
            title: e.dataset.title, type: e.dataset.type, state: e.dataset.state,
            error: e.querySelector('.error')?.textContent || '',
            stat: e.querySelector('.stat')?.textContent,
            points: e.querySelector('.body').dataset.points,
            bars: [...e.querySelectorAll('.bar-row')].map(b => [b.dataset.label, Number(b.dataset.raw)]),
            head: [...e.querySelectorAll('th')].map(th => th.textContent),
            rows: [...e.querySelectorAll('tbody tr')].map(tr => [...tr.children].map(td => td.textContent)),
        }))""")}

    def shot(self, name: str) -> None:
        self.page.screenshot(path=self.shots / f"{name}.png", full_page=True)


@pytest.fixture(scope="module")
def screen(landed: Landed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Screen]:
    workdir = tmp_path_factory.mktemp("screen")
    events = workdir / "events.jsonl"
    events.write_bytes(b"\n".join(landed.lines) + b"\n")
    port = free_port()
    log = (workdir / "screen.log").open("wb")
    proc = subprocess.Popen([MOTCUA, "screen", "--port", str(port), "--now", f"{DAY}T17:00:00"], stdout=log,
                            stderr=subprocess.STDOUT,
                            env={**os.environ, "MOTCUA_CLICKHOUSE_DATABASE": landed.server.connection.database})
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/api/search", timeout=2):
                return True
        except OSError:
            assert proc.poll() is None, (workdir / "screen.log").read_text()
            return False

    try:
        wait_until("motcua screen to answer", answers, timeout=30)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            yield Screen(base, page, landed, events, workdir)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        keep = os.environ.get("MOTCUA_SCREENSHOTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            for png in workdir.glob("*.png"):
                shutil.copy(png, Path(keep) / png.name)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _province_stats(screen: Screen, shown: dict[str, dict[str, Any]], provinces: set[str] | None) -> int:
    day = [r for r in kpi_rows(screen.events, "day", DAY, DAY + timedelta(days=1)) if r["period_start"] == str(DAY)]
    month = kpi_rows(screen.events, "month", FIRST, date(2025, 8, 1))
    checked = 0
    for rate in RATES:
        for label, rows in (("hôm nay", day), ("tháng này", month)):
            expected = _percent(rollup(rows, provinces, rate.numerator, rate.denominator))
            assert shown[f"{rate.title} ({label})"]["stat"] == expected, (rate.title, label, provinces)
            checked += expected != "—"
    return checked


def test_every_dashboard_loads_in_chromium_without_an_error(screen: Screen) -> None:
    busiest = max(screen.landed.summaries, key=lambda s: (len(s.pauses), s.dossier_id)).dossier_id
    for key, uid in UIDS.items():
        shown = screen.open(uid, f"&var-dossier_id={busiest}" if key == "timeline" else "",
                            "from=now-1h&to=now" if key == "health" else RANGE)
        assert shown, key
        for title, panel in shown.items():
            assert panel["state"] == "done" and not panel["error"], (key, title, panel["error"])
        screen.shot(uid)
        if key == "health":  # its "now" is the clock's, though the screen's is fixed: the landing's batches
            assert int(shown["Sự kiện vào mỗi giây (sink đã ghi)"]["points"]) >= 1
    assert screen.console == []


def test_the_wall_screen_shows_what_motcua_kpi_prints(screen: Screen) -> None:
    shown = screen.open(UIDS["province"])
    assert _province_stats(screen, shown, None) >= 14
    # one query per panel that has one: the 18 stats show the first one's result (Grafana's Dashboard datasource)
    panels = dashboard_json("province")["panels"]
    assert sorted(screen.queried) == [p["id"] for p in panels if shared_source(p) is None] == [1, 19, 20, 21, 22, 23]
    hourly = shown["Hồ sơ tiếp nhận và hoàn thành theo giờ (hôm nay)"]
    assert int(hourly["points"]) >= 8  # working hours of the day, drawn by uPlot
    backlog = shown["Hồ sơ tồn theo tuổi (ngày làm việc)"]
    open_dossiers = screen.landed.server.execute(
        "SELECT count() FROM dossiers_current WHERE standing != 'finished'")[0][0]
    assert sum(v for _, v in backlog["bars"]) == open_dossiers > 0

    units = [r for r in kpi_rows(screen.events, "day", DAY, DAY + timedelta(days=1), "unit")
             if r["period_start"] == str(DAY)]
    worst = sorted(units, key=lambda r: (-(r["overdue_rate"] or 0), r["scope_id"]))[:10]
    table = shown["Đơn vị có tỷ lệ trễ hạn cao nhất (hôm nay)"]
    assert table["head"] == ["Đơn vị", "Cần xử lý", "Tỷ lệ trễ hạn", "Tỷ lệ đúng hạn", "Tồn quá hạn"]
    assert table["rows"] == [[r["scope_id"], str(r["to_process"]), _percent(r["overdue_rate"]),
                              _percent(r["on_time_rate"]), str(r["open_overdue"])] for r in worst]
    assert screen.console == []


def test_a_province_picked_in_the_drop_down_rescopes_every_stat(screen: Screen) -> None:
    screen.open(UIDS["province"])
    before = screen.page.evaluate("Number(document.body.dataset.refreshed)")
    screen.page.click("details[data-variable=province] summary")
    screen.page.check("details[data-variable=province] input[value='79']")
    screen.page.click("#title")  # closing the drop-down applies it
    screen.page.wait_for_function(f"Number(document.body.dataset.refreshed) > {before}")
    assert "var-province=79" in screen.page.url
    assert _province_stats(screen, screen.panels(), {"79"}) >= 14
    link = screen.page.get_attribute("#links a[data-link='/d/motcua-drilldown']", "href")
    assert link is not None and "var-province=79" in link and "from=" in link
    assert screen.console == []


def test_a_dossier_in_a_list_links_to_its_timeline(screen: Screen) -> None:
    shown = screen.open(UIDS["province"])
    dossier = shown["Hồ sơ quá hạn đang xử lý"]["rows"][0][0]
    screen.page.click(f"section[data-title='Hồ sơ quá hạn đang xử lý'] a:text-is('{dossier}')")
    screen.page.wait_for_function("document.body.dataset.refreshed")
    assert screen.page.url.split("?")[0].endswith("/d/motcua-timeline")
    timeline = screen.panels()
    assert timeline["Trạng thái, hạn trả và kết luận"]["rows"][0][0] == dossier
    events = screen.landed.server.execute(
        f"SELECT count() FROM events_unique WHERE dossier_id = '{dossier}'")[0][0]
    assert len(timeline["Sự kiện và chuyển trạng thái"]["rows"]) >= events > 0
    assert screen.console == []
