"""Inter-annotator agreement: Cohen's kappa per labeller pair, Fleiss' kappa and Krippendorff's alpha (nominal)
per project and per label, and each labeller's accuracy on gold items.

A *rating* is the answer one labeller gave one item, as a tuple of strings: one label (single-label), the sorted
labels (multi-label) or the sorted ``start:end:label`` spans (span projects); the whole tuple is one nominal
category. Per label, the category is "has this label or not". Statistics that are undefined on the data (one
category only, fewer than two raters) are ``None`` rather than a misleading number.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as _statsmodels_fleiss

Rating = tuple[str, ...]
#: item id -> labeller -> rating
Ratings = Mapping[str, Mapping[str, Rating]]


@dataclass(frozen=True)
class PairKappa:
    a: str
    b: str
    kappa: float | None
    n: int


@dataclass
class Agreement:
    items_compared: int
    cohen: list[PairKappa]
    fleiss_kappa: float | None
    krippendorff_alpha: float | None
    per_label: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "items_compared": self.items_compared,
            "cohen": [{"a": p.a, "b": p.b, "kappa": p.kappa, "n": p.n} for p in self.cohen],
            "fleiss_kappa": self.fleiss_kappa,
            "krippendorff_alpha": self.krippendorff_alpha,
            "per_label": self.per_label,
        }


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def cohen_pairs(ratings: Ratings) -> list[PairKappa]:
    """Cohen's kappa for every pair of labellers over the items both rated."""
    labellers = sorted({who for row in ratings.values() for who in row})
    out = []
    for a, b in combinations(labellers, 2):
        shared = [row for row in ratings.values() if a in row and b in row]
        if len(shared) < 2:
            out.append(PairKappa(a, b, None, len(shared)))
            continue
        ya, yb = ["|".join(r[a]) for r in shared], ["|".join(r[b]) for r in shared]
        kappa = None if len(set(ya) | set(yb)) < 2 else _finite(cohen_kappa_score(ya, yb))
        out.append(PairKappa(a, b, kappa, len(shared)))
    return out


def fleiss_table(rows: Sequence[Sequence[str]]) -> tuple[np.ndarray, list[str]] | None:
    """Items x categories count table over the items with the most common number (>= 2) of raters.

    Fleiss' kappa assumes every item has the same number of raters; items rated by a different number are
    left out (Krippendorff's alpha uses them all).
    """
    sizes = Counter(len(r) for r in rows if len(r) >= 2)
    if not sizes:
        return None
    size = max(sizes, key=lambda s: (sizes[s], s))
    kept = [r for r in rows if len(r) == size]
    categories = sorted({c for r in kept for c in r})
    index = {c: i for i, c in enumerate(categories)}
    table = np.zeros((len(kept), len(categories)), dtype=float)
    for i, row in enumerate(kept):
        for category in row:
            table[i, index[category]] += 1
    return table, categories


def fleiss(rows: Sequence[Sequence[str]]) -> float | None:
    """Fleiss' kappa of nominal ratings (one list of category names per item)."""
    built = fleiss_table(rows)
    if built is None or len(built[1]) < 2:
        return None
    return _finite(_statsmodels_fleiss(built[0], method="fleiss"))


def krippendorff_nominal(rows: Sequence[Mapping[str, str]]) -> float | None:
    """Krippendorff's alpha (nominal) of ratings with missing values (one {rater: category} per item)."""
    raters = sorted({who for row in rows for who in row})
    categories = sorted({c for row in rows for c in row.values()})
    pairable = [row for row in rows if len(row) >= 2]
    if len(categories) < 2 or not pairable:
        return None
    code = {c: float(i) for i, c in enumerate(categories)}
    data = np.full((len(raters), len(rows)), np.nan)
    for j, row in enumerate(rows):
        for i, who in enumerate(raters):
            if who in row:
                data[i, j] = code[row[who]]
    return _finite(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def compute(ratings: Ratings, labels: Sequence[str]) -> Agreement:
    """Every statistic over items with at least two ratings."""
    multi = {item: row for item, row in ratings.items() if len(row) >= 2}
    whole = [{who: "|".join(r) for who, r in row.items()} for row in multi.values()]
    per_label: dict[str, dict[str, float | None]] = {}
    for label in labels:
        binary = [{who: ("yes" if _has(r, label) else "no") for who, r in row.items()} for row in multi.values()]
        per_label[label] = {
            "fleiss_kappa": fleiss([list(b.values()) for b in binary]),
            "krippendorff_alpha": krippendorff_nominal(binary),
        }
    return Agreement(
        items_compared=len(multi),
        cohen=cohen_pairs(ratings),
        fleiss_kappa=fleiss([list(w.values()) for w in whole]),
        krippendorff_alpha=krippendorff_nominal(whole),
        per_label=per_label,
    )


def _has(rating: Rating, label: str) -> bool:
    """Whether a rating carries ``label`` (a span rating is ``start:end:label``)."""
    return any(part == label or part.endswith(f":{label}") for part in rating)


def gold_accuracy(answers: Mapping[str, Mapping[str, Rating]], gold: Mapping[str, Rating]) -> dict[str, dict[str, Any]]:
    """Per labeller: how many gold items they answered and the fraction that match the gold answer exactly."""
    out: dict[str, dict[str, Any]] = {}
    for labeller, by_item in answers.items():
        judged = [item for item in by_item if item in gold]
        right = sum(1 for item in judged if by_item[item] == gold[item])
        out[labeller] = {"gold_items": len(judged), "gold_accuracy": round(right / len(judged), 6) if judged else None}
    return out
