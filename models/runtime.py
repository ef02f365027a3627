"""Classify texts with several tasks in one pass over the shared layers, with calibrated confidence and evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from models.artifacts import TaskModel
from models.encoder import BaseEncoder, Batch
from models.evidence import Span, top_spans, word_spans


@dataclass
class Prediction:
    task: str
    label: str
    confidence: float
    probabilities: dict[str, float]
    evidence: list[Span] = field(default_factory=list)
    model_version: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "task": self.task,
            "label": self.label,
            "confidence": round(self.confidence, 6),
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
            "evidence": [{"start": s.start, "end": s.end, "text": s.text, "weight": s.weight} for s in self.evidence],
            "model_version": self.model_version,
        }


def classify(
    encoder: BaseEncoder, models: Sequence[TaskModel], texts: Sequence[str], *, explain: bool = True, top_k: int = 3
) -> list[list[Prediction]]:
    """Per text, one prediction per model, in the order given. Texts must already be redacted.

    The texts are packed (no padding); the shared lower layers run once per pack whatever the number of models.
    """
    results: list[list[Prediction]] = [[] for _ in texts]
    if not texts or not models:
        return results
    offset = 0
    for batch in encoder.tokenize(texts):
        chunk = texts[offset : offset + len(batch)]
        for row, predictions in enumerate(_classify_pack(encoder, models, batch, chunk, explain, top_k)):
            results[offset + row] = predictions
        offset += len(batch)
    return results


def _classify_pack(
    encoder: BaseEncoder, models: Sequence[TaskModel], batch: Batch, texts: Sequence[str], explain: bool, top_k: int
) -> list[list[Prediction]]:
    shared = encoder.lower(batch)
    results: list[list[Prediction]] = [[] for _ in texts]
    for model in models:
        task = model.task
        temperature = model.artifact.temperature
        attribution: list[list[float]] | None = None
        if explain:
            with torch.enable_grad():
                hidden = shared.detach().requires_grad_(True)
                log_probs = torch.log_softmax(model.logits(encoder, hidden, batch) / temperature, dim=-1)
                chosen = log_probs.argmax(dim=-1)
                log_probs.gather(1, chosen.unsqueeze(1)).sum().backward()
                assert hidden.grad is not None
                per_token = (hidden.grad * hidden).sum(-1)[0].detach().float().cpu()
            attribution = [values.tolist() for values in batch.per_text(per_token)]
            probabilities = log_probs.detach().exp()
        else:
            with torch.inference_mode():
                probabilities = torch.softmax(model.logits(encoder, shared, batch) / temperature, dim=-1)
        probabilities_cpu = probabilities.float().cpu()
        for row, text in enumerate(texts):
            probs = probabilities_cpu[row].tolist()
            best = max(range(len(probs)), key=probs.__getitem__)
            label = task.labels[best]
            if task.out_of_scope_label and probs[best] < task.min_confidence:
                label = task.out_of_scope_label
            evidence: list[Span] = []
            if attribution is not None:
                words = word_spans(text, batch.offsets[row], batch.tokens[row], attribution[row])
                evidence = top_spans(text, words, top_k)
            results[row].append(
                Prediction(
                    task=task.name,
                    label=label,
                    confidence=probs[task.labels.index(label)],
                    probabilities=dict(zip(task.labels, probs, strict=True)),
                    evidence=evidence,
                    model_version=model.artifact.version,
                )
            )
    return results
