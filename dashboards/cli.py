"""``motcua dashboards build|check``: the Grafana provisioning files, and every panel's SQL run for real."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

dashboards_app = typer.Typer(help="Grafana dashboards as code: build the provisioning files, check every query.",
                             no_args_is_help=True)
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


def _instant(text: str | None, default: datetime, end: bool = False) -> datetime:
    """An ISO datetime (local when it has no offset) or date: its local midnight, or for the range's end
    (exclusive, as `motcua kpi --to`) the last millisecond before it, which is how Grafana ends a day."""
    if not text:
        return default
    if "T" in text or " " in text:
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL)
    midnight = datetime.combine(date.fromisoformat(text), time(0), LOCAL)
    return midnight - timedelta(milliseconds=1) if end else midnight


@dashboards_app.command("build")
def build_command() -> None:
    """Write dashboards/provisioning/{datasources,dashboards,alerting}/ from the builders."""
    from dashboards.provisioning import PROVISIONING, build

    for path in build():
        typer.echo(f"wrote {path.relative_to(PROVISIONING.parent.parent)}")


@dashboards_app.command("check")
def check_command(
    time_from: Annotated[str | None, typer.Option("--from", help="Range start (date or datetime, local).")] = None,
    time_to: Annotated[str | None, typer.Option("--to", help="Range end, exclusive; default: tomorrow, local.")] = None,
    var: Annotated[list[str] | None, typer.Option(help="name=value[,value] (default All; repeat).")] = None,
    database: Annotated[str | None, typer.Option(help="Database (default MOTCUA_CLICKHOUSE_DATABASE).")] = None,
    show_sql: Annotated[bool, typer.Option(help="Print the expanded SQL of failing queries.")] = True,
) -> None:
    """Run every variable and panel query, expanded like the ClickHouse plugin does; exit 1 on any error."""
    from dashboards.check import check_dashboard
    from dashboards.provisioning import PROVISIONING
    from wire.runtime import clickhouse_client
    from wire.settings import Settings

    today = datetime.now(LOCAL).replace(hour=0, minute=0, second=0, microsecond=0)
    start = _instant(time_from, today)
    end = _instant(time_to, today + timedelta(days=1) - timedelta(milliseconds=1), end=True)
    selections = {}
    for item in var or []:
        name, _, values = item.partition("=")
        selections[name] = values.split(",")
    settings = Settings().clickhouse_settings()
    if database:
        settings["database"] = database
    client = clickhouse_client(settings, connect_timeout=5, send_receive_timeout=60)
    failed = 0
    try:
        for path in sorted((PROVISIONING / "dashboards" / "json").glob("*.json")):
            board = json.loads(path.read_text(encoding="utf-8"))
            for o in check_dashboard(client, board, start, end, selections):
                status = f"ERROR {o.error}" if o.error else f"{len(o.rows)} rows"
                if o.shares is not None:
                    status += f" (panel {o.shares}'s result)"
                typer.echo(f"{o.dashboard:18} {o.what:20} {o.ms:8.1f} ms  {status}  {o.title}")
                if o.error and o.shares is None:
                    failed += 1
                    if show_sql:
                        typer.echo(f"    {o.sql}", err=True)
    finally:
        client.disconnect()
    typer.echo(f"{failed} failing queries" if failed else "every query ran")
    raise typer.Exit(1 if failed else 0)


@dashboards_app.command("push")
def push_command(
    url: Annotated[str, typer.Option(envvar="GRAFANA_URL", help="Grafana's address, e.g. http://127.0.0.1:3000.")],
    token: Annotated[str | None, typer.Option(envvar="GRAFANA_TOKEN",
                                              help="A service account token (Bearer).")] = None,
    user: Annotated[str | None, typer.Option(envvar="GRAFANA_USER", help="Basic auth user (with --password).")] = None,
    password: Annotated[str | None, typer.Option(envvar="GRAFANA_PASSWORD", help="Basic auth password.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Read Grafana, print the writes, send none.")] = False,
    full: Annotated[bool, typer.Option(help="Print whole request bodies (secrets redacted).")] = False,
    provisioning: Annotated[Path | None, typer.Option(help="The tree to push (default: the committed one).")] = None,
) -> None:
    """Put the folders, datasources, dashboards and alerting of the provisioning tree into a Grafana, by uid;
    only what differs is written, so a second push writes nothing."""
    from grafana_client.client import GrafanaException

    from dashboards.provisioning import PROVISIONING
    from dashboards.push import GrafanaApi, PushError, push, wanted_from

    credential: str | tuple[str, str] | None = token or ((user, password or "") if user else None)
    try:
        wanted = wanted_from(provisioning or PROVISIONING)
        grafana = GrafanaApi(url, credential)
        made = push(grafana, wanted, dry_run, typer.echo, None if full else 200)
    except PushError as error:
        raise typer.Exit(f"dashboards push: {error}") from None
    except (GrafanaException, OSError) as error:
        typer.echo(f"dashboards push: Grafana at {url} answered: {error}", err=True)
        raise typer.Exit(1) from None
    counts = (f"{len(wanted.folders)} folders, {len(wanted.datasources)} datasources, {len(wanted.dashboards)} "
              f"dashboards, {len(wanted.rule_groups)} rule groups, {len(wanted.contact_points)} contact points")
    verb = "would write" if dry_run else "wrote"
    typer.echo(f"{counts}: {verb} {len(made)} changes" if made else f"{counts}: Grafana already has them all")


SCREEN_PORT = 3300  # plus MOTCUA_PORT_OFFSET


def screen(
    port: Annotated[int | None, typer.Option(help="Port (default 3300 + MOTCUA_PORT_OFFSET; 0: any free one).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    now: Annotated[str, typer.Option(help="What 'now' is: wall (the clock), pipeline (the newest event time in "
                                          "ClickHouse: a replayed history) or an ISO instant.")] = "wall",
    database: Annotated[str | None, typer.Option(help="Database (default MOTCUA_CLICKHOUSE_DATABASE).")] = None,
) -> None:
    """Serve the generated dashboards at http://HOST:PORT, their panels run on the configured ClickHouse."""
    from dashboards.screen.serve import serve
    from wire.settings import Settings

    settings = Settings()
    clickhouse = settings.clickhouse_settings()
    if database:
        clickhouse["database"] = database
    serve(clickhouse, host, settings.port(port, SCREEN_PORT), now, lambda line: typer.echo(line))


def register(app: typer.Typer) -> None:
    app.add_typer(dashboards_app, name="dashboards")
    app.command("screen")(screen)
