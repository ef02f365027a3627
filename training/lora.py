"""Train a task's LoRA adapter on the upper encoder layers, on states cached from the shared lower layers.

The lower layers are frozen and shared by every task, so their output for each training text is computed
once and cached; each epoch then runs (forward and backward) only the ``adapt_layers`` upper layers and the
head. The adapter is saved in PEFT's own format: ``PeftModel.from_pretrained`` on
``AutoModelForSequenceClassification`` loads it as is.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from peft import LoraConfig, TaskType, get_peft_model
from sklearn.metrics import f1_score
from transformers import AutoModelForSequenceClassification

from models.artifacts import ModelArtifact
from models.calibration import fit_temperature
from models.encoder import BaseEncoder
from models.tasks import TaskSpec
from services.common.errors import InvalidArgument
from training.data import Example, by_split
from training.distributed import world as current_world
from training.report import finish_version

log = logging.getLogger("salesai.training")

#: LoRA targets in every upper layer: q, k, v, and every dense (attention output, both feed-forward projections)
TARGET_MODULES = ["query", "key", "value", "dense"]


@dataclass
class TrainConfig:
    epochs: int = 12
    patience: int = 3
    batch_size: int = 16
    learning_rate: float = 1e-3
    head_learning_rate: float = 2e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    seed: int = 13
    class_weighting: bool = True
    max_train_examples: int | None = None


@dataclass
class Progress:
    epoch: int
    epochs: int
    step: int
    steps: int
    loss: float
    dev_macro_f1: float | None = None


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


CHECKPOINT = "checkpoint.pt"


@dataclass
class _Resume:
    """Where a run stands after an epoch: enough to continue it exactly as if it had never stopped."""

    epoch: int = 0
    step: int = 0
    best_f1: float = -1.0
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch: int = 0
    stale: int = 0
    stopped: bool = False
    history: list[dict[str, float]] | None = None


def _rng_states(generator: torch.Generator) -> dict[str, object]:
    states: dict[str, object] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "order": generator.get_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore_rng(states: dict[str, Any], generator: torch.Generator) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    generator.set_state(states["order"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(
    folder: Path,
    state: _Resume,
    *,
    trainable: Mapping[str, torch.Tensor],
    optimiser: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
) -> None:
    """Write the epoch's checkpoint atomically (a crash mid-write leaves the previous one intact)."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        "resume": asdict(state),
        "trainable": {n: t.detach().cpu() for n, t in trainable.items()},
        "optimiser": optimiser.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": _rng_states(generator),
    }
    partial = folder / f".{CHECKPOINT}.partial"
    torch.save(payload, partial)
    os.replace(partial, folder / CHECKPOINT)


def load_checkpoint(folder: Path | None) -> dict[str, Any] | None:
    path = Path(folder) / CHECKPOINT if folder else None
    if path is None or not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)  # our own file, written by save_checkpoint


@dataclass
class _Cached:
    states: list[torch.Tensor]  # per example: [tokens, hidden] after the shared layers
    labels: torch.Tensor


def _cache(encoder: BaseEncoder, examples: list[Example], spec: TaskSpec) -> _Cached:
    states: list[torch.Tensor] = []
    for batch in encoder.tokenize([e.text for e in examples]):
        states.extend(state.clone() for state in batch.per_text(encoder.lower(batch)[0]))
    labels = torch.tensor([spec.index(e.label) for e in examples], dtype=torch.long)
    return _Cached(states, labels)


def _pad(states: list[torch.Tensor], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(s.shape[0] for s in states)
    hidden = torch.zeros(len(states), longest, states[0].shape[1], dtype=states[0].dtype, device=device)
    mask = torch.zeros(len(states), longest, dtype=torch.long, device=device)
    for i, s in enumerate(states):
        hidden[i, : s.shape[0]] = s
        mask[i, : s.shape[0]] = 1
    return hidden, mask


class _Upper(torch.nn.Module):
    """The PEFT model's upper layers and head, run on cached lower-layer states."""

    def __init__(self, encoder: BaseEncoder, peft_model: torch.nn.Module) -> None:
        super().__init__()
        inner = peft_model.base_model.model
        base = inner.base_model  # bert / roberta
        self.encoder = encoder
        self.layers = base.encoder.layer[encoder.split :]
        # BERT: pooler (first token → dense → tanh) → dropout → classifier; RoBERTa: its classifier does it all
        self.pooler = getattr(base, "pooler", None)
        self.dropout = (
            getattr(inner, "dropout", torch.nn.Identity()) if self.pooler is not None else torch.nn.Identity()
        )
        self.classifier = inner.classifier

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder.run_upper_padded(self.layers, hidden, mask)
        if self.pooler is not None:
            return self.classifier(self.dropout(self.pooler(hidden)))
        return self.classifier(hidden)


def _logits(upper: _Upper, cached: _Cached, device: torch.device, batch_size: int = 64) -> torch.Tensor:
    upper.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(cached.states), batch_size):
            hidden, mask = _pad(cached.states[start : start + batch_size], device)
            out.append(upper(hidden, mask).float().cpu())
    return torch.cat(out) if out else torch.empty(0)


def _macro_f1(logits: torch.Tensor, labels: torch.Tensor) -> float:
    if len(labels) == 0:
        return 0.0
    return float(f1_score(labels.numpy(), logits.argmax(-1).numpy(), average="macro", zero_division=0))


def train_lora(
    encoder: BaseEncoder,
    spec: TaskSpec,
    examples: list[Example],
    out_dir: Path,
    *,
    version: str,
    config: TrainConfig | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    checkpoint_dir: Path | None = None,
) -> ModelArtifact:
    """Train, calibrate on dev, evaluate on test, and save a version folder at ``out_dir``.

    With ``checkpoint_dir``, a checkpoint (trainable weights, optimiser, scheduler, RNG states, best-so-far
    state, epoch) is written there after every epoch, and a run that finds one continues after its epoch with
    the same result an uninterrupted run would have had. Without it nothing changes.
    """
    config = config or TrainConfig()
    if spec.multi_label:
        raise InvalidArgument("multi-label tasks are not supported by LoRA training yet", field="task")
    splits = by_split(examples)
    train, dev, test = splits["train"], splits["dev"], splits["test"]
    if config.max_train_examples:
        train = train[: config.max_train_examples]
    unknown = sorted({e.label for e in examples} - set(spec.labels))
    if unknown:
        raise InvalidArgument(f"labels not in task {spec.name!r}: {', '.join(unknown[:10])}", field="label")
    if len(train) < 2 * len(spec.labels):
        raise InvalidArgument(f"too little training data: {len(train)} examples for {len(spec.labels)} labels")
    set_seed(config.seed)
    started = time.perf_counter()
    device = encoder.device

    base = AutoModelForSequenceClassification.from_pretrained(
        encoder.name,
        num_labels=len(spec.labels),
        id2label=dict(enumerate(spec.labels)),
        label2id={label: i for i, label in enumerate(spec.labels)},
    )
    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=TARGET_MODULES,
        layers_to_transform=encoder.upper_indices,
        layers_pattern="layer",
        # the head, and BERT's pooler (the base checkpoint has none: it is trained here and saved with the adapter)
        modules_to_save=["classifier", "pooler"] if getattr(base.base_model, "pooler", None) is not None else None,
    )
    peft_model = get_peft_model(base, lora)
    peft_model.to(device)
    upper = _Upper(encoder, peft_model)
    world = current_world()
    trained: torch.nn.Module = upper
    if world.distributed:  # gradients of the trainable parameters are averaged over the ranks
        ids = [device.index] if device.type == "cuda" else None
        trained = torch.nn.parallel.DistributedDataParallel(upper, device_ids=ids)

    cached_train = _cache(encoder, train, spec)
    cached_dev = _cache(encoder, dev, spec)
    cached_test = _cache(encoder, test, spec)

    weights = None
    if config.class_weighting:
        counts = torch.bincount(cached_train.labels, minlength=len(spec.labels)).float().clamp(min=1)
        weights = (counts.sum() / counts).sqrt()
        weights = (weights / weights.mean()).to(device)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    head_params = [
        p for n, p in peft_model.named_parameters() if p.requires_grad and ("classifier" in n or "pooler" in n)
    ]
    head_ids = {id(p) for p in head_params}
    optimiser = torch.optim.AdamW(
        [
            {"params": [p for p in trainable if id(p) not in head_ids], "lr": config.learning_rate},
            {"params": head_params, "lr": config.head_learning_rate},
        ],
        weight_decay=config.weight_decay,
    )
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    warmup = max(1, int(total_steps * config.warmup_ratio))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min((step + 1) / warmup, max(0.0, (total_steps - step) / max(1, total_steps - warmup)))
    )

    generator = torch.Generator().manual_seed(config.seed)
    trainable_named = {n: p for n, p in peft_model.named_parameters() if p.requires_grad}
    saved = load_checkpoint(checkpoint_dir)
    run = _Resume(history=[])
    if saved is not None:
        run = _Resume(**saved["resume"])
        with torch.no_grad():
            for name, value in saved["trainable"].items():
                trainable_named[name].copy_(value.to(device))
        optimiser.load_state_dict(saved["optimiser"])
        scheduler.load_state_dict(saved["scheduler"])
        _restore_rng(saved["rng"], generator)
        log.info("resuming training", extra={"task": spec.name, "after_epoch": run.epoch})
    resumed_from = run.epoch
    best_f1, best_state, best_epoch, stale = run.best_f1, run.best_state, run.best_epoch, run.stale
    history = run.history or []
    step = run.step
    for epoch in range(run.epoch + 1, config.epochs + 1):
        if run.stopped:
            break
        upper.train()
        order = torch.randperm(len(train), generator=generator).tolist()
        running = 0.0
        for start in range(0, len(order), config.batch_size):
            index = world.shard(order[start : start + config.batch_size])
            hidden, mask = _pad([cached_train.states[i] for i in index], device)
            labels = cached_train.labels[index].to(device)
            loss = loss_fn(trained(hidden, mask), labels)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimiser.step()
            scheduler.step()
            step += 1
            running += loss.item()
            if on_progress and world.writer:
                on_progress(Progress(epoch, config.epochs, step, total_steps, float(loss.detach())))
        dev_f1 = _macro_f1(_logits(upper, cached_dev, device), cached_dev.labels) if dev else 0.0
        history.append({"epoch": epoch, "loss": running / steps_per_epoch, "dev_macro_f1": dev_f1})
        if on_progress and world.writer:
            on_progress(Progress(epoch, config.epochs, step, total_steps, running / steps_per_epoch, dev_f1))
        if dev_f1 > best_f1:
            best_f1, best_epoch, stale = dev_f1, epoch, 0
            best_state = copy.deepcopy(
                {n: p.detach().cpu() for n, p in peft_model.named_parameters() if p.requires_grad}
            )
        else:
            stale += 1
        stopped = bool(dev) and stale > 0 and stale >= config.patience
        if checkpoint_dir is not None and world.writer:
            state = _Resume(epoch, step, best_f1, best_state, best_epoch, stale, stopped, history)
            save_checkpoint(
                Path(checkpoint_dir),
                state,
                trainable=trainable_named,
                optimiser=optimiser,
                scheduler=scheduler,
                generator=generator,
            )
        if stopped:
            break
    if best_state is not None:
        with torch.no_grad():
            for name, param in peft_model.named_parameters():
                if name in best_state:
                    param.copy_(best_state[name].to(param.device))

    dev_logits = _logits(upper, cached_dev, device)
    temperature = fit_temperature(dev_logits, cached_dev.labels) if dev else 1.0
    test_logits = _logits(upper, cached_test, device)
    probabilities = torch.softmax(test_logits / temperature, dim=-1).numpy() if test else np.zeros((0, 0))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(str(out_dir))
    training = {"method": "lora", "config": asdict(config), "best_epoch": best_epoch, "history": history}
    if resumed_from:
        training["resumed_from_epoch"] = resumed_from
    if world.distributed:
        training["world_size"] = world.size
    artifact = finish_version(
        out_dir,
        encoder=encoder,
        spec=spec,
        version=version,
        examples=examples,
        splits={"train": train, "dev": dev, "test": test},
        probabilities=probabilities,
        temperature=temperature,
        dev_macro_f1=best_f1,
        seconds=time.perf_counter() - started,
        training=training,
    )
    return artifact
