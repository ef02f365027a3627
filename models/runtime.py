"""Classify texts with several tasks in one pass over the shared layers, with calibrated confidence and evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from models.artifacts import TaskModel
from models.encoder import BaseEncoder, Batch, SentenceEmbedder
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


@dataclass(frozen=True)
class Embedding:
    """A text's sentence embedding (L2-normalised) and the identity of the encoder that made it."""

    values: list[float]
    model: str


#: what one member of a pass gives a text: a task's prediction, or the embedder's vector
Output = Prediction | Embedding
Member = TaskModel | SentenceEmbedder


def classify(
    encoder: BaseEncoder, models: Sequence[TaskModel], texts: Sequence[str], *, explain: bool = True, top_k: int = 3
) -> list[list[Prediction]]:
    """Per text, one prediction per model, in the order given. Texts must already be redacted."""
    rows = classify_many(encoder, [(models, texts)], explain=explain, top_k=top_k)[0]
    return [[p for p in row if isinstance(p, Prediction)] for row in rows]


def classify_many(
    encoder: BaseEncoder,
    requests: Sequence[tuple[Sequence[Member], Sequence[str]]],
    *,
    explain: bool = True,
    top_k: int = 3,
) -> list[list[list[Output]]]:
    """Several requests, each with its own models, in one pass over the shared layers.

    All texts are packed together (no padding) and the shared lower layers run once per pack; each distinct
    model then runs its own upper layers only on the texts whose request asked for it — so traffic spread
    over many tenants' adapters, or a canary beside its stable version, still shares the expensive part.
    A request may also list ``encoder.embedder``: its texts' sentence embeddings then come from the same pass.
    Returns, per request, per text, one output per member of that request (an :class:`Embedding` for the
    embedder, a :class:`Prediction` for a task).
    """
    texts = [t for _, request_texts in requests for t in request_texts]
    owner = [q for q, (_, request_texts) in enumerate(requests) for _ in request_texts]
    found: dict[tuple[int, int], Output] = {}  # (text index, id(member)) -> its output
    offset = 0
    for batch in encoder.tokenize(texts):
        shared = encoder.lower(batch)
        rows = range(offset, offset + len(batch))
        wanted: dict[int, tuple[Member, list[int]]] = {}
        for row in rows:
            for model in requests[owner[row]][0]:
                wanted.setdefault(id(model), (model, []))[1].append(row - offset)
        # models asked for on the same texts run together: their upper layers stacked into one computation
        groups: dict[tuple[int, ...], list[Member]] = {}
        for model, local in wanted.values():
            groups.setdefault(tuple(local), []).append(model)
        for local_rows, models in groups.items():
            local = list(local_rows)
            if len(local) == len(batch):
                sub, hidden = batch, shared
            else:
                sub, hidden = batch.subset(local, shared)
            chunk = [texts[offset + r] for r in local]
            for model, predictions in zip(
                models, _predict_group(encoder, models, sub, hidden, chunk, explain, top_k), strict=True
            ):
                for r, prediction in zip(local, predictions, strict=True):
                    found[(offset + r, id(model))] = prediction
        offset += len(batch)
    out: list[list[list[Output]]] = []
    index = 0
    for members, request_texts in requests:
        out.append([[found[(index + i, id(m))] for m in members] for i in range(len(request_texts))])
        index += len(request_texts)
    return out


def _predict_group(
    encoder: BaseEncoder,
    members: Sequence[Member],
    batch: Batch,
    shared: torch.Tensor,
    texts: Sequence[str],
    explain: bool,
    top_k: int,
) -> list[list[Output]]:
    """Per member, its outputs for the texts of ``batch``.

    The members' upper layers run stacked (one batched computation, see :mod:`models.stacked`) where the
    architecture allows, else one after the other. Evidence is gradient × input at the shared boundary: with
    stacked layers each member gets its own copy of the shared states, so one backward pass gives every task its
    own gradient. The embedder takes no part in the loss: with evidence asked for it runs in a stack of its own,
    so the backward pass covers the tasks' rows only.
    """
    tasks = [m for m in members if isinstance(m, TaskModel)]
    if explain and tasks and len(tasks) < len(members):
        others = [m for m in members if not isinstance(m, TaskModel)]
        found = dict(
            zip(map(id, tasks), _predict_group(encoder, tasks, batch, shared, texts, True, top_k), strict=True)
        )
        found.update(
            zip(map(id, others), _predict_group(encoder, others, batch, shared, texts, False, top_k), strict=True)
        )
        return [found[id(m)] for m in members]
    stack = encoder.stacked(members)
    if stack is None:
        return [_run_member(encoder, m, batch, shared, texts, explain, top_k) for m in members]
    n = len(members)
    rows = [i for i, m in enumerate(members) if isinstance(m, TaskModel)]
    attributions: dict[int, list[list[float]]] = {}
    log_probs: dict[int, torch.Tensor] = {}
    if explain and rows:
        with torch.enable_grad():
            hidden = shared.detach().expand(n, -1, -1).clone().requires_grad_(True)
            states = stack(hidden, batch.mask)
            log_probs = {i: _task_log_probs(members[i], states[i : i + 1], batch) for i in rows}
            torch.stack(
                [lp.gather(1, lp.argmax(dim=-1, keepdim=True)).sum() for lp in log_probs.values()]
            ).sum().backward()
            assert hidden.grad is not None
            per_token = (hidden.grad.float() * hidden.detach().float()).sum(-1).cpu()  # [N, T]
        attributions = {i: [values.tolist() for values in batch.per_text(per_token[i])] for i in rows}
        states = states.detach()
    else:
        with torch.inference_mode():
            states = stack(shared.expand(n, -1, -1), batch.mask)
            log_probs = {i: _task_log_probs(members[i], states[i : i + 1], batch) for i in rows}
    out: list[list[Output]] = []
    for i, member in enumerate(members):
        if isinstance(member, TaskModel):
            probabilities = log_probs[i].detach().exp()
            out.append(list(_assemble(member, batch, texts, probabilities, attributions.get(i), top_k)))
        else:
            out.append(list(_embeddings(member, batch, states[i : i + 1])))
    return out


def _embeddings(embedder: SentenceEmbedder, batch: Batch, states: torch.Tensor) -> list[Embedding]:
    vectors = batch.mean(states).float().cpu()
    return [Embedding(values=row.tolist(), model=embedder.model_id) for row in vectors]


def _run_member(
    encoder: BaseEncoder,
    member: Member,
    batch: Batch,
    shared: torch.Tensor,
    texts: Sequence[str],
    explain: bool,
    top_k: int,
) -> list[Output]:
    if isinstance(member, TaskModel):
        return list(_predict(encoder, member, batch, shared, texts, explain, top_k))
    with torch.inference_mode():
        return list(_embeddings(member, batch, encoder.run_upper(member.layers, shared, batch.mask)))


def _task_log_probs(member: Member, states: torch.Tensor, batch: Batch) -> torch.Tensor:
    assert isinstance(member, TaskModel)
    return _log_probs(member, member.head(states, batch))


def _log_probs(model: TaskModel, logits: torch.Tensor) -> torch.Tensor:
    """Calibrated log-probabilities, computed in float32 whatever the serving precision."""
    return torch.log_softmax(logits.float() / model.artifact.temperature, dim=-1)


def _predict(
    encoder: BaseEncoder,
    model: TaskModel,
    batch: Batch,
    shared: torch.Tensor,
    texts: Sequence[str],
    explain: bool,
    top_k: int,
) -> list[Prediction]:
    """One model on its own modules (architectures :mod:`models.stacked` does not reproduce)."""
    attribution: list[list[float]] | None = None
    if explain:
        with torch.enable_grad():
            hidden = shared.detach().requires_grad_(True)
            log_probs = _log_probs(model, model.logits(encoder, hidden, batch))
            chosen = log_probs.argmax(dim=-1)
            log_probs.gather(1, chosen.unsqueeze(1)).sum().backward()
            assert hidden.grad is not None
            per_token = (hidden.grad.float() * hidden.float()).sum(-1)[0].detach().cpu()
        attribution = [values.tolist() for values in batch.per_text(per_token)]
        probabilities = log_probs.detach().exp()
    else:
        with torch.inference_mode():
            probabilities = _log_probs(model, model.logits(encoder, shared, batch)).exp()
    return _assemble(model, batch, texts, probabilities, attribution, top_k)


def _assemble(
    model: TaskModel,
    batch: Batch,
    texts: Sequence[str],
    probabilities: torch.Tensor,
    attribution: list[list[float]] | None,
    top_k: int,
) -> list[Prediction]:
    task = model.task
    probabilities_cpu = probabilities.float().cpu()
    predictions = []
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
        predictions.append(
            Prediction(
                task=task.name,
                label=label,
                confidence=probs[task.labels.index(label)],
                probabilities=dict(zip(task.labels, probs, strict=True)),
                evidence=evidence,
                model_version=model.artifact.version,
            )
        )
    return predictions
