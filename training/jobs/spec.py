"""What a job asks for, checked before anything is queued: every bad field is an InvalidArgument naming it."""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from models.tasks import TASK_NAME
from services.common.errors import FailedPrecondition, InvalidArgument
from training.data import read_examples

METHODS = ("lora", "linear")
DEPLOY_MODES = ("none", "shadow", "canary")
#: state names; the first three can still change, the rest are where a worker run ends
ACTIVE_STATES = ("queued", "running")
FINAL_STATES = ("succeeded", "failed", "cancelled", "interrupted")
RESUMABLE_STATES = ("interrupted", "cancelled", "failed")
SNAPSHOT_EXPORT = ("annotation.snapshots", "export_training_jsonl")


@dataclass(frozen=True)
class HyperParameters:
    """Training settings of a job; the defaults are those of ``salesai train``."""

    method: str = "lora"
    epochs: int = 12
    batch_size: int = 16
    learning_rate: float = 1e-3
    lora_r: int = 8
    patience: int = 3
    seed: int = 13
    max_length: int = 0  # 0 = the service's model settings

    def check(self) -> HyperParameters:
        limits = {
            "epochs": (1, 100),
            "batch_size": (1, 512),
            "lora_r": (1, 256),
            "patience": (1, 100),
            "seed": (0, 2**31 - 1),
        }
        if self.method not in METHODS:
            raise InvalidArgument(f"method must be one of {', '.join(METHODS)}", field="params.method")
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise InvalidArgument(f"{name} must be between {low} and {high}, got {value}", field=f"params.{name}")
        if not 0.0 < self.learning_rate <= 1.0:
            raise InvalidArgument("learning_rate must be in (0, 1]", field="params.learning_rate")
        if self.max_length and not 8 <= self.max_length <= 512:
            raise InvalidArgument("max_length must be 0 (default) or between 8 and 512", field="params.max_length")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JobRequest:
    tenant_id: str
    task: str
    dataset_path: str = ""
    snapshot_id: str = ""
    params: HyperParameters = field(default_factory=HyperParameters)
    deploy: str = "none"
    canary_percent: float = 0.0
    actor: str = ""


def snapshot_exporter() -> Any:
    """``annotation.snapshots.export_training_jsonl``, imported only when a snapshot job needs it."""
    module_name, attribute = SNAPSHOT_EXPORT
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute)
    except (ImportError, AttributeError):
        raise FailedPrecondition(
            "workbench snapshots cannot be exported for training on this installation yet; "
            "pass dataset_path (a JSONL file) instead",
            field="snapshot_id",
        ) from None


def check_request(request: JobRequest, dataset_roots: list[str], max_dataset_bytes: int) -> JobRequest:
    """Reject a job that could not run, before it is queued; reads the dataset once to report bad lines."""
    if not TASK_NAME.match(request.task):
        raise InvalidArgument("task must be 1-63 lower-case letters, digits or _ and start with a letter", field="task")
    if bool(request.dataset_path) == bool(request.snapshot_id):
        raise InvalidArgument("give exactly one of dataset_path and snapshot_id", field="dataset_path")
    request.params.check()
    if request.deploy not in DEPLOY_MODES:
        raise InvalidArgument(f"deploy must be one of {', '.join(DEPLOY_MODES)}", field="deploy")
    if request.deploy == "canary" and not 0.0 < request.canary_percent <= 100.0:
        raise InvalidArgument("a canary deploy needs canary_percent in (0, 100]", field="canary_percent")
    if request.deploy != "canary" and request.canary_percent:
        raise InvalidArgument("canary_percent is only for deploy=canary", field="canary_percent")
    if request.snapshot_id:
        snapshot_exporter()
        return request
    path = resolve_dataset(request.dataset_path, dataset_roots)
    if path.stat().st_size > max_dataset_bytes:
        raise InvalidArgument(f"dataset larger than {max_dataset_bytes} bytes", field="dataset_path")
    read_examples(path)  # every line checked; the error names the bad lines (never their text)
    return JobRequest(**{**request.__dict__, "dataset_path": str(path)})


def resolve_dataset(raw: str, roots: list[str]) -> Path:
    """The dataset file, which must lie under one of the configured folders (no probing of other paths)."""
    path = Path(raw).expanduser().resolve()
    allowed = [Path(root).expanduser().resolve() for root in roots]
    if not any(path.is_relative_to(root) for root in allowed):
        raise InvalidArgument(
            "dataset_path must be a file under one of the dataset folders: " + ", ".join(map(str, allowed)),
            field="dataset_path",
        )
    if not path.is_file():
        raise InvalidArgument("dataset_path does not exist or is not a file", field="dataset_path")
    return path
