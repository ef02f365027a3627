"""``salesai keys create|list|revoke``: API keys for the gateway (one tenant and one role per key).

``salesai keys rotate-data-key`` and ``rotate-master-key``: the raw zone's encryption keys (procedure:
``infra/README.md``, "Key rotation"). Both are audited (``audit_events``), never print a key.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.auth import KeyStore
from services.cli.common import console, friendly_errors
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.common.roles import Role
from services.common.secrets import load_secrets
from services.common.settings import CommonSettings
from services.common.storage import Database, upgrade
from services.common.storage.models import AuditEvent, RawText, Tenant, TenantKey
from services.ingestion.vault import TenantVault

NEW_MASTER_KEY_ENV = "SALESAI_NEW_MASTER_KEY"

keys_app = typer.Typer(
    name="keys",
    help="Mint, list and revoke gateway API keys; rotate the raw zone's encryption keys.",
    no_args_is_help=True,
)


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


@keys_app.command("rotate-data-key")
@friendly_errors
def rotate_data_key(
    tenant: Annotated[str, typer.Option(help="Tenant whose raw-zone data key gets a new version.")],
    reencrypt: Annotated[
        bool, typer.Option("--reencrypt/--no-reencrypt", help="Re-encrypt the tenant's stored raw texts now.")
    ] = True,
) -> None:
    """New data-key version for a tenant: new messages use it; old ones are re-encrypted (or stay readable)."""
    settings, db = _database()
    vault = TenantVault(load_secrets(settings).master_key)
    try:
        with db.session() as s:
            if s.get(Tenant, tenant) is None:
                raise NotFound(f"tenant {tenant[:64]!r} not found")
            version = vault.rotate(s, tenant, reencrypt=reencrypt)
            rows = s.scalar(select(func.count()).select_from(RawText).where(RawText.tenant_id == tenant)) or 0
            done = f"re-encrypted {rows} raw texts" if reencrypt else f"{rows} raw texts keep their older versions"
            _audit(s, tenant, "rotate_data_key", f"{tenant}/v{version}", done)
    finally:
        db.dispose()
    console.print(f"tenant {tenant}: data key version {version} is current; {done}")


@keys_app.command("rotate-master-key")
@friendly_errors
def rotate_master_key(
    new_key_file: Annotated[
        Path | None,
        typer.Option(help=f"File holding the new key (base64 of 32 bytes). Default: ${NEW_MASTER_KEY_ENV}."),
    ] = None,
) -> None:
    """Re-wrap every tenant's data keys under a new master key, in one transaction (all or nothing).

    Runs with the current key configured as usual. Stop the services first; start them with the new key after."""
    settings, db = _database()
    secrets = load_secrets(settings)
    new_key = _new_master_key(new_key_file)
    try:
        with db.session() as s:
            tenants = sorted(set(s.scalars(select(Tenant.id))) | set(s.scalars(select(TenantKey.tenant_id))))
            count = TenantVault(secrets.master_key).rewrap(s, new_key, tenants)
            for tenant in tenants:
                _audit(s, tenant, "rotate_master_key", tenant, f"{count} keys of {len(tenants)} tenants re-wrapped")
    finally:
        db.dispose()
    console.print(f"re-wrapped {count} keys of {len(tenants)} tenants under the new master key")
    if settings.master_key is None:  # the embedded default: the key lives in <data_dir>/secrets.json
        _replace_local_master_key(settings.data_dir / "secrets.json", new_key)
        console.print(f"updated {settings.data_dir / 'secrets.json'}; restart the services")
    else:
        console.print("now configure SALESAI_MASTER_KEY with the new key and restart every service")


def _database() -> tuple[CommonSettings, Database]:
    settings = CommonSettings()
    upgrade(settings.resolved_database_url)
    return settings, Database(settings.resolved_database_url)


def _new_master_key(path: Path | None) -> bytes:
    if path is not None:
        try:
            value = path.read_text().strip()
        except OSError as err:
            raise InvalidArgument(f"cannot read the new key file: {err.strerror}", field="new_key_file") from None
    else:
        value = os.environ.get(NEW_MASTER_KEY_ENV, "").strip()
        if not value:
            raise InvalidArgument(f"give the new master key in --new-key-file or ${NEW_MASTER_KEY_ENV}")
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise FailedPrecondition("the new master key is not valid base64") from None
    if len(key) != 32:
        raise FailedPrecondition(f"the new master key must decode to 32 bytes, got {len(key)}")
    return key


def _replace_local_master_key(path: Path, key: bytes) -> None:
    values = json.loads(path.read_text())
    values["master_key"] = base64.b64encode(key).decode()
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(values, f)
    os.replace(tmp, path)


def _audit(s: Session, tenant: str, action: str, target: str, reason: str) -> None:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no user name in some containers
        who = "unknown"
    event = AuditEvent(
        tenant_id=tenant,
        actor=f"cli:{who}"[:200],
        role="operator",
        action=action,
        target_type="tenant_key",
        target_id=target[:200],
        reason=reason,
    )
    s.add(event)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app)
