"""`motcua stack up|down|status|logs`: the local Kafka and ClickHouse, started without Docker."""

from __future__ import annotations

import typer

from stack import control
from stack.procs import StackError
from wire import topics as topic_specs
from wire.settings import Settings

stack_app = typer.Typer(
    name="stack",
    help="Start, stop and inspect the local Kafka (KRaft) and ClickHouse servers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _fail(exc: StackError) -> typer.Exit:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


@stack_app.command()
def up(
    brokers: int = typer.Option(1, "--brokers", help="1 (single node) or 3 (KRaft quorum of 3, own ports/data)"),
) -> None:
    """Start ClickHouse and Kafka unless running, wait until they answer, create the pipeline topics."""
    try:
        lines = control.up(brokers=brokers, log=typer.echo)
    except (StackError, ValueError) as exc:
        raise _fail(StackError(str(exc))) from exc
    typer.echo("stack is up:")
    for line in lines:
        typer.echo(f"  {line}")


@stack_app.command()
def down(wipe: bool = typer.Option(False, "--wipe", help="also delete Kafka and ClickHouse data and logs")) -> None:
    """Stop the processes `up` started (SIGTERM, then SIGKILL after 30 s); data stays unless --wipe."""
    try:
        for line in control.down(wipe=wipe):
            typer.echo(line)
    except StackError as exc:
        raise _fail(exc) from exc


@stack_app.command()
def status(
    check: bool = typer.Option(False, "--check", help="exit 3 unless ClickHouse and single-node Kafka answer"),
) -> None:
    """Say which of the stack's processes run and answer."""
    rows = control.status()
    for row in rows:
        ports = ", ".join(f"{what.split(' ', 1)[-1]} {port}" for port, what in row.ports.items())
        if row.state == "running":
            health = "answering" if row.answering else "NOT answering"
            typer.echo(f"{row.name:<18} running (pid {row.pid}), {health}; {ports}")
        else:
            typer.echo(f"{row.name:<18} {row.state}" + (f" ({row.note})" if row.note else ""))
    if check and not all(r.answering for r in rows if r.name in ("clickhouse", "kafka")):
        raise typer.Exit(code=3)


@stack_app.command()
def topics(
    replication: int = typer.Option(1, help="replication factor of topics created now"),
) -> None:
    """Create or update the pipeline topics on bootstrap_servers() (MOTCUA_KAFKA_BOOTSTRAP, e.g. in compose)."""
    bootstrap = Settings().bootstrap_servers()
    for change in topic_specs.ensure_topics(bootstrap, replication=replication) or ["topics already as specified"]:
        typer.echo(f"{bootstrap}: {change}")


@stack_app.command()
def logs(
    service: str = typer.Argument("kafka", help="kafka, clickhouse or kafka-cluster-N"),
    lines: int = typer.Option(50, "-n", "--lines", help="how many lines from the end"),
) -> None:
    """Show the tail of a service's log."""
    try:
        path, text = control.log_tail(service, lines)
    except StackError as exc:
        raise _fail(exc) from exc
    typer.secho(f"==> {path} <==", fg=typer.colors.CYAN)
    typer.echo(text)


def register(app: typer.Typer) -> None:
    """Add this room's sub-commands to the root `motcua` app."""
    app.add_typer(stack_app, name="stack")
