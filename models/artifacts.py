"""A trained task version on disk, and turning it into a serving module.

Folder layout (one registered version)::

    adapter_config.json          PEFT LoRA config   } plain ``peft`` loads these onto
    adapter_model.safetensors    LoRA + head weights } AutoModelForSequenceClassification
    salesai_model.json           task schema, calibration temperature, metrics, hashes, training config
    report/                      evaluation report (metrics.json, confusion.png, reliability.png)

A *linear* version (``salesai train --fast``) has ``head.safetensors`` instead of the two adapter files: a
linear layer on the mean-pooled output of the frozen encoder, trained in seconds while LoRA trains.

Serving does not go through PEFT's wrappers: the LoRA deltas are merged into a private copy of the upper
layers once, at load time, so a task costs exactly ``adapt_layers`` plain layers per message.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from models.encoder import BaseEncoder, Batch
from models.tasks import TaskSpec
from services.common.errors import FailedPrecondition, InvalidArgument

FORMAT_VERSION = 1
MANIFEST = "salesai_model.json"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
LINEAR_HEAD = "head.safetensors"
METHODS = {"lora": (ADAPTER_CONFIG, ADAPTER_WEIGHTS), "linear": (LINEAR_HEAD,)}
_LORA_KEY = re.compile(r"encoder\.layer\.(\d+)\.(.+)\.lora_([AB])\.weight$")
#: head weights as PEFT saves them: BERT's pooler.dense + classifier, or RoBERTa's classifier.{dense,out_proj}
_HEAD_KEYS = (
    (re.compile(r"pooler\.(?:modules_to_save\.default\.)?dense\.(weight|bias)$"), "dense"),
    (re.compile(r"classifier\.(?:modules_to_save\.default\.)?dense\.(weight|bias)$"), "dense"),
    (re.compile(r"classifier\.(?:modules_to_save\.default\.)?out_proj\.(weight|bias)$"), "out_proj"),
    (re.compile(r"classifier\.(?:modules_to_save\.default\.)?(weight|bias)$"), "out_proj"),
)


@dataclass
class ModelArtifact:
    path: Path
    task: TaskSpec
    version: str
    base_model: str
    base_model_hash: str
    adapt_layers: int
    temperature: float = 1.0
    metrics: dict[str, float] = field(default_factory=dict)
    data_hash: str = ""
    created_at: str = ""
    training: dict[str, Any] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "task": self.task.to_dict(),
            "version": self.version,
            "base_model": self.base_model,
            "base_model_hash": self.base_model_hash,
            "adapt_layers": self.adapt_layers,
            "temperature": self.temperature,
            "metrics": self.metrics,
            "data_hash": self.data_hash,
            "created_at": self.created_at,
            "training": self.training,
        }

    @property
    def method(self) -> str:
        return str(self.training.get("method", "lora"))

    def write_manifest(self) -> None:
        (self.path / MANIFEST).write_text(json.dumps(self.manifest(), indent=2, ensure_ascii=False), encoding="utf-8")
        self.write_card()

    def write_card(self) -> None:
        """README.md: what this version is, how well it does and how to load it (replaces PEFT's empty template)."""
        metrics = "\n".join(
            f"| {name} | {value:.4f} |" for name, value in sorted(self.metrics.items()) if isinstance(value, float)
        )
        loading = (
            "```python\nfrom peft import PeftModel\nfrom transformers import AutoModelForSequenceClassification\n\n"
            f"base = AutoModelForSequenceClassification.from_pretrained(BASE, num_labels={len(self.task.labels)})\n"
            "model = PeftModel.from_pretrained(base, THIS_FOLDER)\n```"
            if self.method == "lora"
            else "A linear head (`head.safetensors`) on the mean-pooled output of the frozen base encoder."
        )
        card = f"""# {self.task.name} {self.version}

{self.task.description or "A salesai classification task."}

- method: {self.method}; base model hash `{self.base_model_hash[:12]}`; upper layers adapted: {self.adapt_layers}
- labels: {", ".join(f"`{label}`" for label in self.task.labels)}
- calibration temperature: {self.temperature:.4f}; data hash `{self.data_hash[:12]}`; created {self.created_at}

| test metric | value |
|---|---|
{metrics}

Report: `report/` (per-class scores, confusion matrix, reliability diagram, worst errors, the test split).

{loading}
"""
        (self.path / "README.md").write_text(card, encoding="utf-8")


def read_artifact(path: Path) -> ModelArtifact:
    """Read and check a version folder; a missing, corrupt or foreign folder raises a clear error."""
    path = Path(path)
    if not (path / MANIFEST).is_file():
        raise InvalidArgument(f"model artifact {path.name!r} is incomplete: {MANIFEST} is missing")
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        if data.get("format_version") != FORMAT_VERSION:
            raise InvalidArgument(f"model artifact {path.name!r} has unsupported format {data.get('format_version')!r}")
        artifact = ModelArtifact(
            path=path,
            task=TaskSpec.from_dict(data["task"]),
            version=str(data["version"]),
            base_model=data["base_model"],
            base_model_hash=data["base_model_hash"],
            adapt_layers=int(data["adapt_layers"]),
            temperature=float(data.get("temperature", 1.0)),
            metrics={k: float(v) for k, v in (data.get("metrics") or {}).items()},
            data_hash=data.get("data_hash", ""),
            created_at=data.get("created_at", ""),
            training=data.get("training") or {},
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InvalidArgument(f"model artifact {path.name!r} has a corrupt {MANIFEST}: {error}") from None
    if artifact.method not in METHODS:
        raise InvalidArgument(f"model artifact {path.name!r} has unknown training method {artifact.method!r}")
    for name in METHODS[artifact.method]:
        if not (path / name).is_file():
            raise InvalidArgument(f"model artifact {path.name!r} is incomplete: {name} is missing")
    return artifact


class ClassificationHead(nn.Module):
    """First token → dense → tanh → out_proj: BERT's pooler + classifier, or RoBERTa's classification head."""

    def __init__(self, hidden_size: int, num_labels: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.out_proj = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor, batch: Batch) -> torch.Tensor:
        return self.out_proj(torch.tanh(self.dense(batch.first(hidden))))


class LinearHead(nn.Module):
    """Mean-pooled sentence embedding → linear layer (the ``--fast`` head: logistic regression)."""

    def __init__(self, hidden_size: int, num_labels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor, batch: Batch) -> torch.Tensor:
        return self.linear(batch.mean(hidden))


class TaskModel(nn.Module):
    """A task's upper layers (LoRA merged) and head; runs on the shared lower-layer states."""

    def __init__(self, artifact: ModelArtifact, layers: nn.ModuleList, head: nn.Module) -> None:
        super().__init__()
        self.artifact = artifact
        self.layers = layers
        self.head = head
        self.key: tuple[str, str, str] = ("", artifact.task.name, artifact.version)  # tenant, task, version

    @property
    def task(self) -> TaskSpec:
        return self.artifact.task

    def logits(self, encoder: BaseEncoder, hidden: torch.Tensor, batch: Batch) -> torch.Tensor:
        """[N, labels] for the packed texts of ``batch``, from the shared states ``hidden``."""
        return self.head(encoder.run_upper(self.layers, hidden, batch.mask), batch)


def check_compatible(artifact: ModelArtifact, encoder: BaseEncoder) -> None:
    if artifact.base_model_hash != encoder.hash:
        raise FailedPrecondition(
            f"{artifact.task.name} version {artifact.version} was trained on base model "
            f"{artifact.base_model_hash[:12]}, but the serving base model is {encoder.hash[:12]}"
        )
    if artifact.adapt_layers != encoder.adapt_layers:
        raise FailedPrecondition(
            f"{artifact.task.name} version {artifact.version} adapts {artifact.adapt_layers} layers; "
            f"the serving encoder shares all but {encoder.adapt_layers}"
        )


def load_task_model(artifact: ModelArtifact, encoder: BaseEncoder) -> TaskModel:
    """Merge the artifact's LoRA deltas into a copy of the encoder's upper layers and build its head.

    A linear version shares the encoder's own (frozen) upper layers: it adds only its head.
    """
    check_compatible(artifact, encoder)
    if artifact.method == "linear":
        return _load_linear(artifact, encoder)
    try:
        config = json.loads((artifact.path / ADAPTER_CONFIG).read_text(encoding="utf-8"))
        weights = load_file(str(artifact.path / ADAPTER_WEIGHTS), device="cpu")
    except (ValueError, OSError, SafetensorError) as error:
        raise InvalidArgument(f"model artifact {artifact.path.name!r} has corrupt adapter files: {error}") from None
    rank = int(config["r"])
    alpha = float(config.get("lora_alpha", rank))
    scaling = alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank

    layers = encoder.upper_copy()
    pairs: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
    head_state: dict[str, torch.Tensor] = {}
    for key, tensor in weights.items():
        if match := _LORA_KEY.search(key):
            index, module, which = int(match[1]), match[2], match[3]
            if index < encoder.split:
                raise FailedPrecondition(f"adapter {artifact.path.name!r} adapts layer {index}, below the shared split")
            pairs.setdefault((index - encoder.split, module), {})[which] = tensor
        else:
            for pattern, part in _HEAD_KEYS:
                if match := pattern.search(key):
                    head_state[f"{part}.{match[1]}"] = tensor
                    break
    num_labels = len(artifact.task.labels)
    head = ClassificationHead(encoder.config.hidden_size, num_labels)
    try:
        head.load_state_dict(head_state)
    except RuntimeError as error:
        raise InvalidArgument(
            f"adapter {artifact.path.name!r} has a head that does not match its labels: {error}"
        ) from None
    with torch.no_grad():
        for (local, module), ab in pairs.items():
            if set(ab) != {"A", "B"}:
                raise InvalidArgument(f"adapter {artifact.path.name!r} has an incomplete LoRA pair for {module}")
            linear = layers[local].get_submodule(module)
            delta = (ab["B"].float() @ ab["A"].float()) * scaling
            if delta.shape != linear.weight.shape:
                raise InvalidArgument(f"adapter {artifact.path.name!r}: {module} has shape {tuple(delta.shape)}")
            linear.weight += delta.to(linear.weight.dtype)
    model = TaskModel(artifact, layers, head).to(encoder.device, encoder.dtype).eval()
    model.requires_grad_(False)
    return model


def _load_linear(artifact: ModelArtifact, encoder: BaseEncoder) -> TaskModel:
    try:
        weights = load_file(str(artifact.path / LINEAR_HEAD), device="cpu")
    except (ValueError, OSError, SafetensorError) as error:
        raise InvalidArgument(f"model artifact {artifact.path.name!r} has a corrupt head: {error}") from None
    head = LinearHead(encoder.config.hidden_size, len(artifact.task.labels))
    try:
        head.linear.load_state_dict(weights)
    except RuntimeError as error:
        raise InvalidArgument(
            f"model artifact {artifact.path.name!r} has a head that does not match: {error}"
        ) from None
    model = TaskModel(artifact, encoder.layers[encoder.split :], head).to(encoder.device, encoder.dtype).eval()
    model.requires_grad_(False)
    return model
