"""Train a lead-scoring model from any table, and score rows with factor explanations.

    frame = read_table(path)
    result = train(frame, TrainConfig(target="outcome", time_column="created_at"))
    result.report["holdout"]["auc"]
    for line in result.model.explain(new_rows): ...
    result.model.score_row({"industry": "retail", "company_size": 120, ...}).probability  # one lead, no pandas

The rows are split once (latest 20% held out by time, or a stratified 20%); the held-out part is touched
only to write the report. With enough data (``min_per_class`` positives and negatives in the training part)
gradient-boosted trees are fitted on most of the training part and calibrated on the rest; below that a
naive-Bayes model is fitted and calibrated out-of-fold, and the report says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from services.common.errors import InvalidArgument
from services.scoring.config import TrainConfig
from services.scoring.estimators import Calibrator, NaiveBayesScorer, Scorer, fit_lightgbm
from services.scoring.explain import Factor, top_factors
from services.scoring.metrics import best_f1_threshold, evaluate
from services.scoring.split import Split, split_rows
from services.scoring.table import (
    Feature,
    FeaturePlan,
    encode_row,
    parse_target,
    parse_times,
    plan_features,
    prepare_features,
    require_columns,
)

#: Fewer positives or negatives than this in the training part cannot be modelled at all.
ABSOLUTE_MIN_PER_CLASS = 5


@dataclass(frozen=True)
class RowScore:
    """One row's calibrated probability, its log-odds split into per-feature contributions plus a base value,
    and the strongest of them as factors."""

    probability: float
    base_value: float
    contributions: np.ndarray
    factors: list[Factor]


@dataclass
class ScoringModel:
    """A fitted scorer with its calibration, decision threshold and the columns it expects."""

    config: TrainConfig
    features: list[Feature]
    scorer: Scorer
    calibrator: Calibrator
    threshold: float

    @property
    def kind(self) -> str:
        return self.scorer.kind

    def inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        return prepare_features(frame, self.features)

    def probabilities(self, frame: pd.DataFrame) -> np.ndarray:
        return self.calibrator(self.scorer.raw_score(self.inputs(frame)))

    def explain(self, frame: pd.DataFrame, id_column: str | None = None, per_side: int = 3) -> Iterator[dict[str, Any]]:
        """One record per row: ``id`` (the id column, else the row number), ``probability``, ``factors``."""
        id_column = id_column or self.config.id_column
        if id_column:
            require_columns(frame, [id_column], "id column")
        X = self.inputs(frame)
        parts, base = self.scorer.contributions(X)
        probability = self.calibrator(parts.sum(axis=1) + base)
        for position, (_, row) in enumerate(frame.iterrows()):
            yield {
                "id": _json_id(row[id_column]) if id_column else position,
                "probability": round(float(probability[position]), 6),
                "factors": [f.as_dict() for f in top_factors(row, parts[position], self.features, per_side)],
            }

    def score_row(self, row: Mapping[str, Any], per_side: int = 3) -> RowScore:
        """Score one row given as a mapping of feature values (live scoring of one lead) without pandas: the
        same numbers, factors and errors as the pandas path on a one-row frame. A feature missing from ``row``
        counts as a missing value; other keys are ignored."""
        cells = {f.name: row.get(f.name) for f in self.features}
        parts, base = self.scorer.contributions_array(encode_row(cells, self.features))
        base_value = float(base[0])
        return RowScore(
            probability=self.calibrator.one(parts[0].sum() + base_value),
            base_value=base_value,
            contributions=parts[0],
            factors=top_factors(cells, parts[0], self.features, per_side),
        )


def _json_id(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and np.isnan(value) else value


@dataclass
class TrainResult:
    model: ScoringModel
    #: Which rows were trained on and which held out.
    split: Split
    #: Everything the saved ``metrics.json`` holds: held-out metrics, split, fallback, notes.
    report: dict[str, Any] = field(default_factory=dict)


def train(frame: pd.DataFrame, config: TrainConfig) -> TrainResult:
    """Fit, calibrate and evaluate a scoring model on ``frame``; bad input raises InvalidArgument."""
    require_columns(frame, [c for c in (config.target, config.time_column, config.id_column) if c])
    y = parse_target(frame[config.target])
    notes = []
    if y.isna().any():
        notes.append(f"{int(y.isna().sum())} rows without an outcome left out")
        frame, y = frame[y.notna()], y[y.notna()]
    if y.empty:
        raise InvalidArgument(f"target column {config.target!r} has no values", field="target")
    times = parse_times(frame[config.time_column]) if config.time_column else None
    plan = plan_features(
        frame, {c for c in (config.target, config.time_column, config.id_column) if c}, config.max_categories
    )
    plan.notes[:0] = notes
    X = prepare_features(frame, plan.features)
    split = split_rows(y, config.holdout_fraction, config.seed, times)
    counts = _class_counts(y.loc[split.train])
    if min(counts.values()) < config.min_per_class:
        model, fitting = _fit_naive_bayes(X.loc[split.train], y.loc[split.train], plan, config)
        plan.notes.append(
            f"naive-Bayes fallback: the training part has {counts['positive']} positive and "
            f"{counts['negative']} negative rows (gradient-boosted trees need {config.min_per_class} of each)"
        )
    else:
        model, fitting = _fit_trees(X.loc[split.train], y.loc[split.train], times, plan, config)
    report = _report(model, X.loc[split.holdout], y.loc[split.holdout], split, counts, plan, fitting)
    return TrainResult(model=model, split=split, report=report)


def _class_counts(y: pd.Series) -> dict[str, int]:
    counts = {"positive": int((y == 1).sum()), "negative": int((y == 0).sum())}
    if min(counts.values()) < ABSOLUTE_MIN_PER_CLASS:
        raise InvalidArgument(
            f"too little data: the training part has {counts['positive']} positive and {counts['negative']} "
            f"negative rows; at least {ABSOLUTE_MIN_PER_CLASS} of each are needed",
            field="data",
        )
    return counts


def _fit_trees(
    X: pd.DataFrame, y: pd.Series, times: pd.Series | None, plan: FeaturePlan, config: TrainConfig
) -> tuple[ScoringModel, dict[str, Any]]:
    """Trees on the earlier/larger part of the training rows; calibration and threshold on the rest."""
    inner = split_rows(y, config.calibration_fraction, config.seed + 1, None if times is None else times.loc[y.index])
    scorer = fit_lightgbm(X.loc[inner.train], y.loc[inner.train].to_numpy(), config)
    raw = scorer.raw_score(X.loc[inner.holdout])
    y_cal = y.loc[inner.holdout].to_numpy()
    calibrator = Calibrator.fit(raw, y_cal)
    threshold = best_f1_threshold(y_cal, calibrator(raw))
    model = ScoringModel(config, plan.features, scorer, calibrator, threshold)
    fitting = {
        "fit_rows": len(inner.train),
        "calibration_rows": len(inner.holdout),
        "calibration": calibrator.method,
        "trees": scorer.booster.num_trees(),
    }
    return model, fitting


def _fit_naive_bayes(
    X: pd.DataFrame, y: pd.Series, plan: FeaturePlan, config: TrainConfig
) -> tuple[ScoringModel, dict[str, Any]]:
    """Naive Bayes on all training rows; calibration and threshold from out-of-fold scores (too few rows to
    set a slice aside)."""
    labels = y.to_numpy()
    folds = StratifiedKFold(
        n_splits=min(5, int(np.bincount(labels.astype(int)).min())), shuffle=True, random_state=config.seed
    )
    oof = np.zeros(len(labels))
    for fit_rows, score_rows in folds.split(X, labels):
        fold = NaiveBayesScorer.fit(X.iloc[fit_rows], labels[fit_rows], plan.features)
        oof[score_rows] = fold.raw_score(X.iloc[score_rows])
    calibrator = Calibrator.fit(oof, labels)
    threshold = best_f1_threshold(labels, calibrator(oof))
    scorer = NaiveBayesScorer.fit(X, labels, plan.features)
    model = ScoringModel(config, plan.features, scorer, calibrator, threshold)
    return model, {
        "fit_rows": len(labels),
        "calibration_rows": len(labels),
        "calibration": f"{calibrator.method} (out-of-fold)",
    }


def _report(
    model: ScoringModel,
    X: pd.DataFrame,
    y: pd.Series,
    split: Split,
    counts: dict[str, int],
    plan: FeaturePlan,
    fitting: dict[str, Any],
) -> dict[str, Any]:
    parts, base = model.scorer.contributions(X)
    probability = model.calibrator(parts.sum(axis=1) + base)
    importance = np.abs(parts).mean(axis=0)
    return {
        "model": model.kind,
        "fallback": model.kind != "lightgbm",
        "threshold": model.threshold,
        "split": {
            "method": split.method,
            "train_rows": len(split.train),
            "holdout_rows": len(split.holdout),
            "holdout_from": split.boundary,
            **fitting,
        },
        "training_positives": counts["positive"],
        "training_negatives": counts["negative"],
        "holdout": evaluate(y.to_numpy(), probability, model.threshold),
        "importance": {
            f.name: round(float(v), 6)
            for f, v in sorted(zip(model.features, importance, strict=True), key=lambda p: -p[1])
        },
        "notes": plan.notes,
    }
