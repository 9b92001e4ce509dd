"""``motcua notify`` (the service), ``motcua notify roster check FILE``, ``motcua alerts ack REF|tail``."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import logging
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from dossier.calendar import format_instant
from dossier.contract import parse_timestamp

notify_app = typer.Typer(help="Page the responsible officials (run without a command: the service).",
                         invoke_without_command=True)
roster_app = typer.Typer(help="The roster of officials paged.", no_args_is_help=True)
alerts_app = typer.Typer(help="Acknowledge pages; watch them arrive.", no_args_is_help=True)
notify_app.add_typer(roster_app, name="roster")


def _settings() -> Any:
    from wire.settings import Settings

    return Settings()


def _clickhouse(database: str | None) -> tuple[dict[str, Any], str]:
    settings = _settings().clickhouse_settings()
    return settings, database or str(settings["database"])


def _policy(digest_window: float, max_items: int, wake: str, escalate: str, max_age: str, since: str | None,
            attempts: int, retry_first: float, retry_max: float) -> Any:
    from notify.policy import Policy, parse_duration, parse_escalation

    try:
        return Policy(
            digest_window=digest_window, max_items=max_items,
            wake_kinds=frozenset(k.strip() for k in wake.split(",") if k.strip()),
            escalate_after=parse_escalation(escalate), max_age=parse_duration(max_age),
            since=parse_timestamp(since) if since else None, attempts=attempts, retry_first=retry_first,
            retry_max=retry_max)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


@notify_app.callback()
def notify(
    ctx: typer.Context,
    roster: Annotated[Path | None, typer.Option(help="Roster CSV (default MOTCUA_NOTIFY_ROSTER).")] = None,
    clock: Annotated[str, typer.Option(help="wall, or event: follow the alerts' event time (demo, tests).")] = "wall",
    max_age: Annotated[str, typer.Option(help="Alerts older than this at admission are expired, not sent.")] = "24h",
    since: Annotated[str | None, typer.Option(help="Alerts before this instant (RFC 3339) are expired.")] = None,
    digest_window: Annotated[float, typer.Option(help="Seconds a recipient's pages gather into one message.")] = 60.0,
    max_items: Annotated[int, typer.Option(help="Alerts per message at most.")] = 100,
    wake: Annotated[str, typer.Option(help="Kinds paged outside working hours (comma-separated).")] = "pipeline",
    escalate: Annotated[str, typer.Option(help="Working time before escalation per kind, over the defaults "
                                               "(due_soon=2h,overdue=2h,unit_overdue_rate=4h; kind=never).")] = "",
    attempts: Annotated[int, typer.Option(help="Delivery attempts before failing over and to the DLQ.")] = 8,
    retry_first: Annotated[float, typer.Option(help="Seconds before the 2nd attempt (then doubling).")] = 2.0,
    retry_max: Annotated[float, typer.Option(help="Longest wait between attempts, seconds.")] = 300.0,
    host: Annotated[str | None, typer.Option(help="HTTP address (default MOTCUA_NOTIFY_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default MOTCUA_NOTIFY_PORT, 18095 + offset).")] = None,
    public_url: Annotated[str | None, typer.Option(help="Base of the acknowledgement links.")] = None,
    topic_prefix: Annotated[str, typer.Option(help="Read <prefix>dossier.alerts (tests, benchmarks).")] = "",
    group: Annotated[str, typer.Option(help="Kafka consumer group.")] = "motcua-notify",
    database: Annotated[str | None, typer.Option(help="ClickHouse database (default the stack's).")] = None,
    senders: Annotated[int, typer.Option(help="Messages on their way at once.")] = 8,
) -> None:
    """Consume dossier.alerts and Grafana's webhook, and page the officials of the roster."""
    if ctx.invoked_subcommand is not None:
        return
    from notify import links
    from notify.roster import Roster, RosterError
    from notify.service import NotifyConfig, run_notifier
    from producers.pseudonym import KeyConfigError, Pseudonymiser

    if clock not in ("wall", "event"):
        raise typer.BadParameter("--clock is wall or event")
    settings = _settings()
    path = roster or settings.notify_roster
    if path is None:
        raise typer.BadParameter("give --roster FILE or set MOTCUA_NOTIFY_ROSTER")
    try:
        pseudonymise = Pseudonymiser.from_env()
        contacts = Roster.load(Path(path), pseudonymise)
    except (KeyConfigError, RosterError, OSError) as error:
        typer.echo(f"notify: {error}", err=True)
        raise typer.Exit(2) from None
    connection, db = _clickhouse(database)
    config = NotifyConfig(
        policy=_policy(digest_window, max_items, wake, escalate, max_age, since, attempts, retry_first, retry_max),
        clock=clock,  # type: ignore[arg-type]
        bootstrap=settings.bootstrap_servers(), clickhouse=connection, database=db, group_id=group,
        topic_prefix=topic_prefix, host=host or settings.notify_host, port=port or settings.notify_http_port,
        public_url=public_url or settings.notify_public_url, webhook_token=settings.notify_webhook_token,
        senders=senders)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_notifier(config, contacts, links.link_key(pseudonymise)))


@roster_app.command("check")
def roster_check(
    file: Annotated[Path, typer.Argument(help="The roster CSV.")],
    alerts: Annotated[Path | None, typer.Option(help="Alerts (dossier-alert/1 JSON lines) instead of ClickHouse's "
                                                     "alerts table, for the units seen in alerts.")] = None,
    database: Annotated[str | None, typer.Option(help="ClickHouse database (default the stack's).")] = None,
) -> None:
    """Name every problem of a roster: lines, URLs, units, and units seen in alerts that have no route."""
    from dossier import catalog
    from notify.delivery import url_parses
    from notify.roster import Problem, Seen, check_roster, read_entries

    try:
        entries, problems = read_entries(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        typer.echo(f"roster check: cannot read {file}: {error}", err=True)
        raise typer.Exit(2) from None
    provinces = {p.code for p in catalog.provinces()}
    units = {u.code for p in provinces for u in catalog.units(p, communes=99)}
    seen: list[Seen] = []
    try:
        if alerts is not None:
            from notify.inbox import from_dossier_alert

            for line in alerts.read_bytes().splitlines():
                if line.strip():
                    a = from_dossier_alert(line)
                    seen.append(Seen(a.kind, a.province, a.unit, bool(a.dossier_id)))
        else:
            from notify.store import Store

            connection, db = _clickhouse(database)
            store = Store({**connection, "connect_timeout": 3}, db)
            try:
                seen = store.seen()
            finally:
                store.close()
    except Exception as error:  # the check could not look at the alerts: say so, and fail
        problems.append(Problem(0, f"cannot read the units seen in alerts: {str(error).splitlines()[0]}"))
    found = check_roster(entries, problems, url_parses, units | {s.unit for s in seen}, provinces, seen)
    for problem in found:
        typer.echo(f"{file}: {problem}")
    routed = {s.unit for s in seen}
    typer.echo(f"{len(entries)} lines, {len(routed)} units seen in alerts, {len(found)} problems")
    raise typer.Exit(1 if found else 0)


@alerts_app.command("ack")
def ack(
    ref: Annotated[str, typer.Argument(help="The ref: line of the page (its alert_id).")],
    by: Annotated[str | None, typer.Option(help="Your official_id (stored as its pseudonym).")] = None,
    topic_prefix: Annotated[str, typer.Option(help="The notifier's topics' prefix.")] = "",
    database: Annotated[str | None, typer.Option(help="ClickHouse database (default the stack's).")] = None,
) -> None:
    """Acknowledge an alert: its escalation stops (every recipient's page of it)."""
    from notify.inbox import AckRecord, encode
    from notify.store import Store
    from producers.pseudonym import KeyConfigError, Pseudonymiser
    from wire.runtime import kafka_producer
    from wire.topics import notify_topics

    connection, db = _clickhouse(database)
    store = Store({**connection, "connect_timeout": 3}, db)
    try:
        if not store.known([ref]):
            typer.echo(f"alerts ack: no page has ref {ref}", err=True)
            raise typer.Exit(1)
    finally:
        store.close()
    try:
        who = Pseudonymiser.from_env()(by) if by else "cli"
    except KeyConfigError as error:
        typer.echo(f"alerts ack: {error}", err=True)
        raise typer.Exit(2) from None
    producer = kafka_producer(acks="all", enable_idempotence=True)
    try:
        record = AckRecord(ref, by=who, via="cli", at=format_instant(round(time.time())))
        producer.send(notify_topics(topic_prefix)[0].name, key=ref.encode(), value=encode(record)).get(timeout=30)
    finally:
        producer.close()
    typer.echo(f"acknowledged {ref}")


def _show_mail(path: Path) -> str:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    part = message.get_body(preferencelist=("plain", "html"))
    body = part.get_content() if part is not None else ""
    return f"--- {message['Date']}  to {message['To']}\n{message['Subject']}\n{body.rstrip()}\n"


@alerts_app.command("tail")
def tail(
    mailbox: Annotated[Path | None, typer.Option(help="A Maildir to show (the demo's mailbox) instead of the "
                                                      "notifications table.")] = None,
    follow: Annotated[bool, typer.Option(help="Keep showing what arrives.")] = True,
    database: Annotated[str | None, typer.Option(help="ClickHouse database (default the stack's).")] = None,
) -> None:
    """Show pages as officials receive them: the demo's mailbox, or the notifications log in ClickHouse."""
    shown: set[str] = set()
    since = 0
    while True:
        if mailbox is not None:
            for path in sorted((mailbox / "new").glob("*"), key=lambda p: p.stat().st_mtime):
                if path.name not in shown:
                    shown.add(path.name)
                    typer.echo(_show_mail(path))
        else:
            since = _tail_log(database, since)
        if not follow:
            return
        time.sleep(1.0)


def _tail_log(database: str | None, since: int) -> int:
    """Print the notifications rows written after version ``since``; the greatest version printed."""
    from wire.runtime import clickhouse_client

    connection, db = _clickhouse(database)
    client = clickhouse_client(connection, connect_timeout=3)
    try:
        rows = client.execute(
            f"SELECT version, toUInt32(clock_at), status, kind, route, level, substring(recipient, 1, 8), channel, "
            f"attempts, alert_id FROM {db}.notifications WHERE version > %(v)s ORDER BY version LIMIT 10000",
            {"v": since})
    finally:
        client.disconnect()
    for version, clock, status, kind, route, level, recipient, channel, tries, alert_id in rows:
        row = {"at": format_instant(clock), "status": status, "kind": kind, "route": route, "level": level,
               "recipient": recipient, "channel": channel, "attempts": tries, "ref": alert_id}
        typer.echo(json.dumps(row, ensure_ascii=False))
        since = version
    return since


def register(app: typer.Typer) -> None:
    app.add_typer(notify_app, name="notify")
    app.add_typer(alerts_app, name="alerts")
