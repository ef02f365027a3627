"""``salesai train``: fine-tune a task's LoRA adapter (or, with --fast, a linear head) from a JSONL file,
evaluate it on its test split, and register the version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from services.cli.common import console, friendly_errors

if TYPE_CHECKING:
    from models.artifacts import ModelArtifact
    from models.config import ModelSettings
    from models.encoder import BaseEncoder
    from models.tasks import TaskSpec
    from training.data import Example
    from training.lora import TrainConfig


@friendly_errors
def train_command(
    task: Annotated[str, typer.Option(help="Task name: a default task (intent, risk) or a new one.")],
    data: Annotated[Path, typer.Option(help='JSONL: {"text", "label"[, "split": train|dev|test][, "lang"]}.')],
    tenant: Annotated[str, typer.Option(help="Register the version for this tenant only ('' = global).")] = "",
    stage: Annotated[str, typer.Option(help="Stage of the new version: registered, staging or production.")] = (
        "registered"
    ),
    epochs: Annotated[int, typer.Option(min=1, max=100)] = 12,
    batch_size: Annotated[int, typer.Option(min=1, max=512)] = 16,
    learning_rate: Annotated[float, typer.Option(min=1e-6, max=1.0)] = 1e-3,
    lora_r: Annotated[int, typer.Option(min=1, max=256)] = 8,
    seed: Annotated[int, typer.Option()] = 13,
    fast: Annotated[
        bool, typer.Option(help="Train only a linear head on frozen embeddings: seconds, usable while LoRA trains.")
    ] = False,
    register: Annotated[bool, typer.Option(help="Add the version to the registry (else only --out).")] = True,
    out: Annotated[Path | None, typer.Option(help="Also keep a copy of the version folder here.")] = None,
) -> None:
    """Fine-tune a task's LoRA adapter on a JSONL file, evaluate it on its test split and register it.

    Trains on split train, stops early on dev macro-F1, calibrates confidence on dev, reports on test (macro-F1,
    per-class scores, confusion matrix, reliability diagram). Rows without a split are split 70/10/20 per label,
    deterministically. Prints the version and its test metrics as one JSON line on stdout.
    """
    from models.config import ModelSettings
    from models.encoder import BaseEncoder
    from models.registry import ModelRegistry
    from models.tasks import TaskSpec, default_tasks
    from services.common.storage import Database, upgrade
    from training.data import assign_splits, read_examples
    from training.distributed import local_device, world
    from training.linear import LinearConfig, train_linear
    from training.lora import TrainConfig

    examples = assign_splits(read_examples(data), dev=0.1, test=0.2)
    spec = default_tasks().get(task) or TaskSpec.for_labels(task, [e.label for e in examples])
    settings = ModelSettings()
    settings = settings.model_copy(update={"device": local_device(settings.device)})
    ranks = world()
    if not ranks.writer:  # under torchrun: train beside rank 0, write nothing of our own
        _train_other_rank(settings, spec, examples, fast, TrainConfig(epochs=epochs, batch_size=batch_size,
                          learning_rate=learning_rate, lora_r=lora_r, seed=seed))  # fmt: skip
        return
    upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        registry = ModelRegistry(db, settings.resolved_registry_dir)
        encoder = BaseEncoder.from_settings(settings, for_training=True)
        version = registry.next_version(spec.name, tenant)
        staging = registry.staging_dir(spec.name)
        try:
            if fast:
                with console.status(f"{spec.name} {version}: linear head on frozen embeddings"):
                    artifact = train_linear(
                        encoder, spec, examples, staging, version=version, config=LinearConfig(seed=seed)
                    )
            else:
                config = TrainConfig(
                    epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, lora_r=lora_r, seed=seed
                )
                artifact = _train_lora(encoder, spec, examples, staging, version, config)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if out is not None:
            shutil.copytree(staging, out, dirs_exist_ok=True)
        if register:  # a failure here leaves the trained folder in the staging area: nothing is lost
            info = registry.register(staging, tenant_id=tenant, stage=stage, created_by="salesai train", move=True)
            console.print(f"registered {info.task} {info.version} ({info.stage}) for {tenant or 'all tenants'}")
        else:
            shutil.rmtree(staging, ignore_errors=True)
        metrics = {k: round(v, 4) if isinstance(v, float) else v for k, v in artifact.metrics.items()}
        typer.echo(json.dumps({"task": spec.name, "version": version, "metrics": metrics}, ensure_ascii=False))
    finally:
        db.dispose()


def _train_other_rank(
    settings: ModelSettings, spec: TaskSpec, examples: list[Example], fast: bool, config: TrainConfig
) -> None:
    """A rank other than 0: the same training (DDP needs every rank), into a temporary folder it deletes."""
    import tempfile

    from models.encoder import BaseEncoder
    from training.lora import train_lora

    if fast:
        return  # the linear head trains in one process: nothing to share
    encoder = BaseEncoder.from_settings(settings, for_training=True)
    with tempfile.TemporaryDirectory(prefix="salesai-rank-") as scratch:
        train_lora(encoder, spec, examples, Path(scratch), version="rank", config=config)


def _train_lora(
    encoder: BaseEncoder, spec: TaskSpec, examples: list[Example], staging: Path, version: str, config: TrainConfig
) -> ModelArtifact:
    from training.lora import Progress as TrainProgress
    from training.lora import train_lora

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"))
    with Progress(*columns, TimeRemainingColumn(), console=console) as progress:
        bar = progress.add_task(f"{spec.name} {version}", total=None, status="")

        def report(p: TrainProgress) -> None:
            status = f"epoch {p.epoch}/{p.epochs} loss {p.loss:.3f}"
            if p.dev_macro_f1 is not None:
                status += f" dev macro-F1 {p.dev_macro_f1:.3f}"
            progress.update(bar, total=p.steps, completed=p.step, status=status)

        return train_lora(encoder, spec, examples, staging, version=version, config=config, on_progress=report)


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
