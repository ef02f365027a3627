"""``salesai keys create|list|revoke``: API keys for the gateway (one tenant and one role per key)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gateway.auth import KeyStore
from services.cli.common import console, friendly_errors
from services.common.roles import Role
from services.common.secrets import load_secrets
from services.common.settings import CommonSettings
from services.common.storage import Database, upgrade

keys_app = typer.Typer(name="keys", help="Mint, list and revoke gateway API keys.", no_args_is_help=True)


def _store() -> KeyStore:
    settings = CommonSettings()
    upgrade(settings.resolved_database_url)
    return KeyStore(Database(settings.resolved_database_url), load_secrets(settings).api_key_pepper)


@keys_app.command("create")
@friendly_errors
def create(
    tenant: Annotated[str, typer.Option(help="Tenant the key acts for.")],
    role: Annotated[Role, typer.Option(help="What the key may do.")],
    name: Annotated[str, typer.Option(help="A label, e.g. 'CRM production'.")] = "",
) -> None:
    """Mint a key. The secret is printed once, on stdout; store it now."""
    minted = _store().create(tenant, role, name)
    console.print(f"key [bold]{minted.key_id}[/bold] for tenant {minted.tenant_id}, role {minted.role.value}")
    typer.echo(minted.token)


@keys_app.command("list")
@friendly_errors
def list_keys(tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None) -> None:
    """List keys (ids, tenants, roles; never secrets)."""
    table = Table("id", "tenant", "role", "name", "created", "revoked")
    for key in _store().list(tenant):
        revoked = key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else ""
        table.add_row(key.id, key.tenant_id, key.role, key.name, key.created_at.isoformat(timespec="seconds"), revoked)
    console.print(table)


@keys_app.command("revoke")
@friendly_errors
def revoke(key_id: Annotated[str, typer.Argument(help="The key id shown by `keys list`.")]) -> None:
    """Revoke a key; requests with it fail from then on."""
    _store().revoke(key_id)
    console.print(f"revoked {key_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app)
