"""The fast path: a logistic-regression head on frozen sentence embeddings, trained in seconds.

Serving a linear version costs only its head on top of the shared encoder, so a team can put a new task live
while its LoRA adapter trains. The regularisation strength is chosen on dev macro-F1; the head's logits are
temperature-calibrated on dev like any other version.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from models.artifacts import LINEAR_HEAD, ModelArtifact
from models.calibration import fit_temperature
from models.encoder import BaseEncoder
from models.tasks import TaskSpec
from services.common.errors import InvalidArgument
from training.data import Example, by_split
from training.report import finish_version


@dataclass
class LinearConfig:
    regularisation: tuple[float, ...] = (1.0, 4.0, 16.0, 64.0)
    class_weighting: bool = True
    seed: int = 13


def sentence_features(encoder: BaseEncoder, texts: list[str]) -> torch.Tensor:
    """What a linear head sees at serving time: the mean-pooled output of the frozen encoder (no prompt)."""
    return encoder.embed(texts, prefix="")


def train_linear(
    encoder: BaseEncoder,
    spec: TaskSpec,
    examples: list[Example],
    out_dir: Path,
    *,
    version: str,
    config: LinearConfig | None = None,
) -> ModelArtifact:
    config = config or LinearConfig()
    splits = by_split(examples)
    train, dev, test = splits["train"], splits["dev"], splits["test"]
    unknown = sorted({e.label for e in examples} - set(spec.labels))
    if unknown:
        raise InvalidArgument(f"labels not in task {spec.name!r}: {', '.join(unknown[:10])}", field="label")
    if len({e.label for e in train}) < 2:
        raise InvalidArgument("the training split needs examples of at least 2 labels", field="data")
    started = time.perf_counter()
    features = {name: sentence_features(encoder, [e.text for e in rows]).numpy() for name, rows in splits.items()}
    targets = {name: np.array([spec.index(e.label) for e in rows], dtype=np.int64) for name, rows in splits.items()}

    best: tuple[float, LogisticRegression] | None = None
    for strength in config.regularisation:
        model = LogisticRegression(
            C=strength,
            max_iter=3000,
            class_weight="balanced" if config.class_weighting else None,
            random_state=config.seed,
        ).fit(features["train"], targets["train"])
        score = (
            f1_score(targets["dev"], model.predict(features["dev"]), average="macro", zero_division=0)
            if len(dev)
            else 0.0
        )
        if best is None or score > best[0]:
            best = (float(score), model)
    assert best is not None
    dev_f1, model = best
    # a full-size head: labels absent from the training split get a very low bias (never predicted)
    weight = torch.zeros(len(spec.labels), features["train"].shape[1])
    bias = torch.full((len(spec.labels),), -30.0)
    rows = torch.as_tensor(model.classes_, dtype=torch.long)
    coef, intercept = torch.as_tensor(model.coef_, dtype=torch.float32), torch.as_tensor(model.intercept_)
    if len(model.classes_) == 2:  # binary sklearn models keep one row: logit(class 1) - logit(class 0)
        coef, intercept = torch.cat([-coef / 2, coef / 2]), torch.cat([-intercept / 2, intercept / 2])
    weight[rows], bias[rows] = coef, intercept.float()

    def logits(name: str) -> torch.Tensor:
        return torch.as_tensor(features[name]) @ weight.T + bias

    temperature = fit_temperature(logits("dev"), torch.as_tensor(targets["dev"])) if len(dev) else 1.0
    probabilities = torch.softmax(logits("test") / temperature, dim=-1).numpy() if test else np.zeros((0, 0))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file({"weight": weight.contiguous(), "bias": bias.contiguous()}, str(out_dir / LINEAR_HEAD))
    return finish_version(
        out_dir,
        encoder=encoder,
        spec=spec,
        version=version,
        examples=examples,
        splits={"train": train, "dev": dev, "test": test},
        probabilities=probabilities,
        temperature=temperature,
        dev_macro_f1=dev_f1,
        seconds=time.perf_counter() - started,
        training={"method": "linear", "config": {**asdict(config), "chosen_regularisation": float(model.C)}},
    )
