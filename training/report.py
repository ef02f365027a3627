"""Evaluation of a task version on its test split: macro-F1, per-class and per-language scores, confusion
matrix, calibration (ECE and reliability diagram); saved as JSON and PNG beside the version."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from models.artifacts import ModelArtifact
from models.calibration import expected_calibration_error, reliability
from models.encoder import BaseEncoder
from models.tasks import TaskSpec
from training.data import Example, data_hash, write_examples


def evaluate(
    spec: TaskSpec, examples: list[Example], probabilities: np.ndarray
) -> tuple[dict[str, float], dict[str, Any]]:
    if not examples:
        return {}, {}
    labels = np.array([spec.index(e.label) for e in examples])
    predicted = probabilities.argmax(axis=1)
    everything = list(range(len(spec.labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=everything, zero_division=0
    )
    metrics = {
        "macro_f1": float(f1_score(labels, predicted, labels=everything, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(labels, predicted)),
        "ece": expected_calibration_error(probabilities, labels),
        "test_examples": float(len(examples)),
    }
    per_language = {}
    for lang in sorted({e.lang for e in examples if e.lang}):
        rows = np.array([e.lang == lang for e in examples])
        score = f1_score(labels[rows], predicted[rows], labels=everything, average="macro", zero_division=0)
        per_language[lang] = {"macro_f1": float(score), "examples": int(rows.sum())}
        metrics[f"macro_f1_{lang}"] = float(score)
    worst = np.argsort(probabilities[np.arange(len(labels)), labels])[:10]
    report = {
        "labels": list(spec.labels),
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(spec.labels, precision, recall, f1, support, strict=True)
        },
        "per_language": per_language,
        "confusion_matrix": confusion_matrix(labels, predicted, labels=everything).tolist(),
        "reliability": reliability(probabilities, labels),
        "worst_errors": [
            {
                "text": examples[i].text,
                "label": examples[i].label,
                "predicted": spec.labels[int(predicted[i])],
                "confidence": float(probabilities[i].max()),
                **examples[i].source,  # which row it is, so erasure can find it
            }
            for i in worst
            if predicted[i] != labels[i]
        ],
    }
    return metrics, report


def write_report(folder: Path, spec: TaskSpec, report: dict[str, Any], metrics: dict[str, float]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(
        json.dumps({"metrics": metrics, **report}, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    if not report:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.array(report["confusion_matrix"])
    size = max(4.0, 0.45 * len(spec.labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(spec.labels)), spec.labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(spec.labels)), spec.labels, fontsize=8)
    for (row, col), value in np.ndenumerate(matrix):
        if value:
            ax.text(col, row, str(value), ha="center", va="center", fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{spec.name}: confusion matrix (test, macro-F1 {metrics.get('macro_f1', 0):.3f})")
    fig.tight_layout()
    fig.savefig(folder / "confusion.png", dpi=110)
    plt.close(fig)

    table = report["reliability"]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    centres = [(lo + hi) / 2 for lo, hi in zip(table["lower"], table["upper"], strict=True)]
    ax.bar(centres, table["accuracy"], width=0.09, edgecolor="black", label="accuracy")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{spec.name}: reliability (ECE {metrics.get('ece', 0):.3f})")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(folder / "reliability.png", dpi=110)
    plt.close(fig)


def finish_version(
    out_dir: Path,
    *,
    encoder: BaseEncoder,
    spec: TaskSpec,
    version: str,
    examples: list[Example],
    splits: dict[str, list[Example]],
    probabilities: np.ndarray,
    temperature: float,
    dev_macro_f1: float,
    seconds: float,
    training: dict[str, Any],
) -> ModelArtifact:
    """Evaluate on test, then write the manifest, the model card, the report and the test split of a version."""
    test = splits["test"]
    metrics, report = evaluate(spec, test, probabilities)
    artifact = ModelArtifact(
        path=out_dir,
        task=spec,
        version=version,
        base_model=encoder.name,
        base_model_hash=encoder.hash,
        adapt_layers=encoder.adapt_layers,
        temperature=temperature,
        metrics={**metrics, "dev_macro_f1": dev_macro_f1, "train_seconds": round(seconds, 2)},
        data_hash=data_hash(examples),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        training={**training, "examples": {name: len(rows) for name, rows in splits.items()}},
    )
    artifact.write_manifest()
    write_report(out_dir / "report", spec, report, artifact.metrics)
    write_examples(out_dir / "report" / "test.jsonl", test)  # the promotion gate compares versions on it
    return artifact
