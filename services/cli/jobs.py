"""``salesai jobs submit|list|show|watch|cancel|resume|report``: training jobs through the gateway's REST API
(the same calls any client makes; an ml_engineer or admin key, project_admin for submit)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from services.cli.common import console

jobs_app = typer.Typer(name="jobs", help="Queue, watch, cancel and resume training jobs; read their reports.")

Gateway = Annotated[str, typer.Option("--url", envvar="SALESAI_URL", help="Gateway URL.")]
ApiKey = Annotated[str, typer.Option("--key", envvar="SALESAI_API_KEY", help="An ml_engineer or admin key.")]
DEFAULT_URL = "http://127.0.0.1:8000"


def _fail(status: int | None, message: str) -> typer.Exit:
    console.print(f"[red]error{f' {status}' if status else ''}:[/red] {message}")
    return typer.Exit(1)


def _message(reply: Any) -> str:
    try:
        return str(reply.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return str(reply.text[:200])


def _request(method: str, url: str, key: str, path: str, **kwargs: Any) -> Any:
    import httpx

    try:
        reply = httpx.request(
            method, f"{url.rstrip('/')}/v1/jobs{path}", headers={"Authorization": f"Bearer {key}"}, timeout=60, **kwargs
        )
    except httpx.HTTPError as error:
        raise _fail(None, f"gateway unreachable at {url} ({type(error).__name__})") from None
    if reply.status_code >= 400:
        raise _fail(reply.status_code, _message(reply))
    return reply


def _echo(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@jobs_app.command("submit")
def submit(
    task: Annotated[str, typer.Argument(help="Task name (intent, risk or a new one).")],
    data: Annotated[str, typer.Option(help="JSONL dataset path on the server (salesai train format).")] = "",
    snapshot: Annotated[str, typer.Option(help="Or a workbench snapshot id.")] = "",
    method: Annotated[str, typer.Option(help="lora, or linear (a head on frozen embeddings: seconds).")] = "lora",
    epochs: Annotated[int, typer.Option(min=1, max=100)] = 12,
    batch_size: Annotated[int, typer.Option(min=1, max=512)] = 16,
    learning_rate: Annotated[float, typer.Option(min=1e-6, max=1.0)] = 1e-3,
    lora_r: Annotated[int, typer.Option(min=1, max=256)] = 8,
    patience: Annotated[int, typer.Option(min=1, max=100)] = 3,
    seed: Annotated[int, typer.Option(min=0)] = 13,
    deploy: Annotated[str, typer.Option(help="none, shadow or canary (after the gate passes).")] = "none",
    canary_percent: Annotated[float, typer.Option(min=0, max=100)] = 0.0,
    url: Gateway = DEFAULT_URL,
    key: ApiKey = "",
) -> None:
    """Queue a training job; prints the job (its id is what the other commands take)."""
    params = {"method": method, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
              "lora_r": lora_r, "patience": patience, "seed": seed}  # fmt: skip
    body = {"task": task, "dataset_path": data, "snapshot_id": snapshot, "params": params, "deploy": deploy,
            "canary_percent": canary_percent}  # fmt: skip
    _echo(_request("POST", url, key, "", json=body).json())


@jobs_app.command("list")
def list_jobs(
    task: Annotated[str, typer.Option(help="Only this task.")] = "",
    state: Annotated[str | None, typer.Option(help="Only jobs in this state.")] = None,
    url: Gateway = DEFAULT_URL,
    key: ApiKey = "",
) -> None:
    """Your tenant's jobs, newest first."""
    params = {"task": task, **({"state": state} if state else {})}
    jobs = _request("GET", url, key, "", params=params).json()["jobs"]
    # the id is what every other command takes: never truncated, whatever the terminal's width
    job_id = Column("id", no_wrap=True, min_width=32)
    table = Table(job_id, "task", "state", "progress", "test macro-F1", "version", "deploy", "created")
    for job in jobs:
        progress = job["progress"]
        table.add_row(
            job["id"],
            job["task"],
            job["state"],
            f"epoch {progress['epoch']}/{progress['epochs']}" if progress.get("epochs") else "",
            f"{job['metrics']['macro_f1']:.3f}" if "macro_f1" in job["metrics"] else "",
            job["version"],
            job["deploy_result"].get("detail", "") if job["deploy"] != "none" else "",
            job["created_at"] or "",
        )
    console.print(table)


@jobs_app.command("show")
def show(job_id: str, url: Gateway = DEFAULT_URL, key: ApiKey = "") -> None:
    """One job: state, progress, metrics, gate, deploy, reproducibility."""
    _echo(_request("GET", url, key, f"/{job_id}").json())


@jobs_app.command("watch")
def watch(
    job_id: str,
    after: Annotated[int, typer.Option(help="Only events after this sequence number.")] = 0,
    url: Gateway = DEFAULT_URL,
    key: ApiKey = "",
) -> None:
    """Follow a job's progress and log lines until it stops; exit code 1 unless it succeeded."""
    import httpx

    state = ""
    try:
        with httpx.stream(
            "GET",
            f"{url.rstrip('/')}/v1/jobs/{job_id}/events",
            params={"after_seq": after},
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(60, read=None),
        ) as reply:
            if reply.status_code >= 400:
                reply.read()
                raise _fail(reply.status_code, _message(reply))
            for line in reply.iter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                state = event.get("state") or state
                console.print(f"[dim]{event['seq']:>4}[/dim] {event['kind']:<8} {event['message']}")
    except httpx.HTTPError as error:
        raise _fail(None, f"gateway unreachable at {url} ({type(error).__name__})") from None
    raise typer.Exit(0 if state == "succeeded" else 1)


@jobs_app.command("cancel")
def cancel(job_id: str, url: Gateway = DEFAULT_URL, key: ApiKey = "") -> None:
    """Cancel a queued or running job (its worker process is terminated)."""
    _echo(_request("POST", url, key, f"/{job_id}/cancel").json())


@jobs_app.command("resume")
def resume(job_id: str, url: Gateway = DEFAULT_URL, key: ApiKey = "") -> None:
    """Queue an interrupted, cancelled or failed job again; it continues after its last epoch checkpoint."""
    _echo(_request("POST", url, key, f"/{job_id}/resume").json())


@jobs_app.command("report")
def report(
    job_id: str,
    out: Annotated[Path, typer.Option(help="Where to write the HTML report.")] = Path("report.html"),
    url: Gateway = DEFAULT_URL,
    key: ApiKey = "",
) -> None:
    """Save the job's evaluation report (one self-contained HTML page)."""
    out.write_text(_request("GET", url, key, f"/{job_id}/report").text, encoding="utf-8")
    console.print(f"report written to [bold]{out}[/bold]")


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app)
