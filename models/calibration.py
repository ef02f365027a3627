"""Temperature scaling (Guo et al., 2017) and calibration error."""

from __future__ import annotations

import numpy as np
import torch


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, max_iter: int = 200) -> float:
    """The temperature T > 0 minimising the NLL of softmax(logits / T) on held-out data."""
    if len(labels) == 0:
        return 1.0
    logits = logits.detach().float().cpu()
    labels = labels.detach().long().cpu()
    log_t = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter)
    loss_fn = torch.nn.CrossEntropyLoss()

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = loss_fn(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimiser.step(closure)
    temperature = float(log_t.exp().item())
    return float(np.clip(temperature, 0.05, 20.0))


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """Per confidence bin: mean confidence, accuracy and count (the reliability diagram's data)."""
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == labels).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    out: dict[str, list[float]] = {"confidence": [], "accuracy": [], "count": [], "lower": [], "upper": []}
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        count = int(inside.sum())
        out["lower"].append(float(low))
        out["upper"].append(float(high))
        out["count"].append(count)
        out["confidence"].append(float(confidence[inside].mean()) if count else 0.0)
        out["accuracy"].append(float(correct[inside].mean()) if count else 0.0)
    return out


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    table = reliability(probabilities, labels, bins)
    total = max(1, len(labels))
    return float(
        sum(
            c / total * abs(a - p)
            for c, a, p in zip(table["count"], table["accuracy"], table["confidence"], strict=True)
        )
    )
