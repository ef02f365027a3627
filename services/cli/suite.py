"""``salesai up`` (run every service locally), ``salesai status`` and ``salesai db upgrade``."""

from __future__ import annotations

import signal
import time
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from services.cli.common import console, friendly_errors
from services.cli.supervisor import Running, Suite, default_specs
from services.common.secrets import load_secrets
from services.common.settings import CommonSettings
from services.common.storage import upgrade


@friendly_errors
def up(
    host: Annotated[str, typer.Option(help="Interface every service listens on.")] = "127.0.0.1",
    gateway_port: Annotated[int, typer.Option(help="REST port (0 = any free port).")] = 8000,
    ingestion_port: Annotated[int, typer.Option(help="Ingestion gRPC port (0 = any free port).")] = 50051,
    inference_port: Annotated[int, typer.Option(help="Inference gRPC port (0 = any free port).")] = 50052,
    training_port: Annotated[int, typer.Option(help="Training job gRPC port (0 = any free port).")] = 50053,
    leads_port: Annotated[int, typer.Option(help="Leads (scoring, suggestions) gRPC port (0 = any).")] = 50054,
) -> None:
    """Run every service and the gateway as local processes until Ctrl-C."""
    settings = CommonSettings()
    with console.status("preparing the database and secrets"):
        upgrade(settings.resolved_database_url)
        load_secrets(settings)  # create them once, before several processes race to
    specs = default_specs(host, gateway_port, ingestion_port, inference_port, training_port, leads_port)
    suite = Suite(settings.data_dir, specs)
    with console.status("starting services") as status:

        def started(running: Running) -> None:
            console.print(f"[green]✓[/green] {running.spec.name} ready on port {running.port}")
            status.update("starting services")

        suite.start(on_started=started)
    _print_urls(host, suite)
    _wait(suite)


def _print_urls(host: str, suite: Suite) -> None:
    ports = suite.ports
    gateway = f"http://{host}:{ports['gateway']}"
    table = Table("what", "where", title="salesai is up — Ctrl-C stops it")
    table.add_row("REST API", f"{gateway}/v1")
    table.add_row("API docs (OpenAPI)", f"{gateway}/docs")
    table.add_row("readiness / metrics", f"{gateway}/readyz  {gateway}/metrics")
    for running in suite.running[:-1]:
        name = running.spec.name
        table.add_row(f"{name} gRPC (reflection on)", f"{host}:{running.port}")
        if running.metrics_port:
            table.add_row(f"{name} metrics", f"http://{host}:{running.metrics_port}/metrics")
    table.add_row("logs", str(suite.data_dir / "logs"))
    console.print(table)


def _wait(suite: Suite) -> None:
    stop = False

    def on_signal(_signum: int, _frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop:
            failed = suite.failed()
            if failed is not None:
                console.print(f"[red]{failed.spec.name} exited ({failed.process.returncode}); see {failed.log_path}")
                raise typer.Exit(1)
            time.sleep(0.5)
    finally:
        with console.status("stopping"):
            suite.stop()
        console.print("stopped")


@friendly_errors
def status(url: Annotated[str, typer.Option(help="Gateway URL.")] = "http://127.0.0.1:8000") -> None:
    """Show whether the gateway and every backing service are up."""
    try:
        reply = httpx.get(f"{url}/readyz", timeout=5)
    except httpx.HTTPError as err:
        console.print(f"[red]gateway unreachable at {url}[/red] ({type(err).__name__})")
        raise typer.Exit(1) from None
    body = reply.json()
    table = Table("service", "status")
    table.add_row("gateway", "SERVING")
    for name, state in body.get("services", {}).items():
        table.add_row(name, f"[green]{state}[/green]" if state == "SERVING" else f"[red]{state}[/red]")
    console.print(table)
    if reply.status_code != 200:
        raise typer.Exit(1)


db_app = typer.Typer(name="db", help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
@friendly_errors
def db_upgrade() -> None:
    """Apply every Alembic migration to the configured database (idempotent)."""
    settings = CommonSettings()
    upgrade(settings.resolved_database_url)
    console.print("database is at the latest revision")


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("status")(status)
    app.add_typer(db_app)
