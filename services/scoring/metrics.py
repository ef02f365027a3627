"""Report metrics of a scoring model on rows it never saw: AUC, F1 at the threshold, Brier, calibration, lift."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import f1_score, precision_recall_curve, roc_auc_score


def best_f1_threshold(y: np.ndarray, probability: np.ndarray) -> float:
    """The probability cut that maximises F1 on (y, probability); 0.5 when one class is absent."""
    if len(np.unique(y)) < 2:
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y, probability)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def calibration_bins(y: np.ndarray, probability: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Equal-width probability bins with their row count, mean prediction and observed positive rate."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probability, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append(
                {
                    "low": round(float(edges[b]), 2),
                    "high": round(float(edges[b + 1]), 2),
                    "count": int(mask.sum()),
                    "mean_predicted": float(probability[mask].mean()),
                    "observed_rate": float(y[mask].mean()),
                }
            )
    return out


def lift_at_top(y: np.ndarray, probability: np.ndarray, share: float = 0.1) -> float | None:
    """Positive rate among the top ``share`` of rows by score, divided by the overall positive rate."""
    base = y.mean()
    if base == 0:
        return None
    top = max(1, int(np.ceil(share * len(y))))
    order = np.argsort(-probability, kind="mergesort")[:top]
    return float(y[order].mean() / base)


def evaluate(y: np.ndarray, probability: np.ndarray, threshold: float) -> dict[str, Any]:
    """All report metrics on one labelled part; AUC is ``None`` when that part holds only one class."""
    y = np.asarray(y, dtype=float)
    predicted = (probability >= threshold).astype(float)
    both = len(np.unique(y)) == 2
    return {
        "rows": int(len(y)),
        "positive_rate": float(y.mean()),
        "mean_predicted": float(probability.mean()),
        "auc": float(roc_auc_score(y, probability)) if both else None,
        "threshold": float(threshold),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "brier": float(np.mean((probability - y) ** 2)),
        "lift_top_decile": lift_at_top(y, probability),
        "calibration_bins": calibration_bins(y, probability),
    }
