"""Training on a synthetic lead table with a known generating model: accuracy, splits, exact factors,
calibration, and the naive-Bayes fallback on small data."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from services.common.errors import InvalidArgument
from services.scoring.config import TrainConfig
from services.scoring.estimators import LightGBMScorer
from services.scoring.model import TrainResult, train


@pytest.mark.parametrize("result_name", ["trained", "trained_by_time"])
def test_trees_reach_a_useful_auc_on_held_out_rows(result_name: str, request: pytest.FixtureRequest) -> None:
    result: TrainResult = request.getfixturevalue(result_name)
    assert result.model.kind == "lightgbm"
    assert not result.report["fallback"]
    assert result.report["holdout"]["auc"] >= 0.75
    holdout = result.report["holdout"]
    assert 0 < holdout["f1"] <= 1 and 0 < holdout["brier"] < 0.25
    assert holdout["lift_top_decile"] > 1.5
    assert sum(b["count"] for b in holdout["calibration_bins"]) == holdout["rows"]


def test_time_split_holds_out_the_latest_fifth(trained_by_time: TrainResult, leads: pd.DataFrame) -> None:
    split = trained_by_time.split
    assert len(split.holdout) == round(0.2 * len(leads))
    assert leads.loc[split.train, "created_at"].max() <= leads.loc[split.holdout, "created_at"].min()
    assert sorted(split.holdout) == list(leads["created_at"].nlargest(len(split.holdout)).index.sort_values())
    assert trained_by_time.report["split"]["method"] == "time"


def test_stratified_split_is_deterministic_and_keeps_the_outcome_rate(
    trained: TrainResult, leads: pd.DataFrame
) -> None:
    again = train(leads, TrainConfig(target="outcome", id_column="lead_id"))
    assert list(again.split.holdout) == list(trained.split.holdout)
    assert again.report["holdout"]["auc"] == trained.report["holdout"]["auc"]
    won = leads["outcome"] == "Won"
    assert abs(won.loc[trained.split.holdout].mean() - won.mean()) < 0.01


def test_ids_time_and_free_text_are_not_features(trained_by_time: TrainResult) -> None:
    names = {f.name for f in trained_by_time.model.features}
    assert names.isdisjoint({"lead_id", "created_at", "outcome", "owner_email"})
    assert any("'owner_email'" in note for note in trained_by_time.report["notes"])
    assert trained_by_time.model.features[0].kind == "categorical"  # industry


def test_contributions_plus_base_reproduce_the_raw_log_odds(trained: TrainResult, leads: pd.DataFrame) -> None:
    scorer = trained.model.scorer
    assert isinstance(scorer, LightGBMScorer)
    X = trained.model.inputs(leads)
    parts, base = scorer.contributions(X)
    raw = scorer.booster.predict(X, raw_score=True)
    np.testing.assert_allclose(parts.sum(axis=1) + base, raw, rtol=0, atol=1e-6)
    assert np.ptp(base) == 0  # one expected value for every row
    records = list(trained.model.explain(leads.head(50)))
    np.testing.assert_allclose(
        [r["probability"] for r in records], trained.model.calibrator(raw[:50]), rtol=0, atol=1e-6
    )


@pytest.mark.parametrize(
    ("column", "extreme", "side"),
    [("price_inquiries_30d", lambda v: v >= 4, "positive"), ("budget_freeze_mentions", lambda v: v >= 2, "negative")],
)
def test_true_drivers_lead_the_factors_where_they_are_extreme(
    trained: TrainResult, leads: pd.DataFrame, column: str, extreme: object, side: str
) -> None:
    rows = leads[extreme(leads[column])]  # type: ignore[operator]
    assert len(rows) >= 15
    hits = 0
    for record in trained.model.explain(rows):
        top = [f for f in record["factors"] if (f["contribution"] > 0) == (side == "positive")]
        hits += column in [f["feature"] for f in top]
    assert hits / len(rows) >= 0.9


def test_probabilities_are_calibrated_on_held_out_rows(trained: TrainResult, leads: pd.DataFrame) -> None:
    holdout = leads.loc[trained.split.holdout]
    predicted = trained.model.probabilities(holdout).mean()
    observed = (holdout["outcome"] == "Won").mean()
    assert abs(predicted - observed) <= 0.05
    assert trained.report["split"]["calibration"] == "platt"
    assert 0.05 < trained.model.threshold < 0.95


def test_small_data_falls_back_to_naive_bayes(few_leads: Callable[[int, int], pd.DataFrame]) -> None:
    small = few_leads(30, 30)
    result = train(small, TrainConfig(target="outcome", time_column="created_at", id_column="lead_id"))
    assert result.model.kind == "naive_bayes"
    assert result.report["fallback"] is True
    assert any("naive-Bayes fallback" in note for note in result.report["notes"])
    assert result.report["training_positives"] + result.report["training_negatives"] == 48
    X = result.model.inputs(small)
    parts, base = result.model.scorer.contributions(X)
    np.testing.assert_allclose(parts.sum(axis=1) + base, result.model.scorer.raw_score(X), atol=1e-9)
    record = next(result.model.explain(small))
    assert record["id"] == small["lead_id"].iloc[0]
    assert 1 <= len(record["factors"]) <= 6 and {"text_en", "text_zh"} <= set(record["factors"][0])


def test_naive_bayes_alone_still_ranks_leads_well(leads: pd.DataFrame) -> None:
    forced = train(leads, TrainConfig(target="outcome", time_column="created_at", min_per_class=10**6))
    assert forced.model.kind == "naive_bayes"
    assert forced.report["holdout"]["auc"] >= 0.75


def test_too_little_data_or_one_outcome_is_a_clear_error(few_leads: Callable[[int, int], pd.DataFrame]) -> None:
    with pytest.raises(InvalidArgument, match="too little data"):
        train(few_leads(4, 30), TrainConfig(target="outcome"))
    lost_only = few_leads(1, 30).assign(outcome="lost")
    with pytest.raises(InvalidArgument, match="too little data"):
        train(lost_only, TrainConfig(target="outcome"))


def test_rows_without_outcome_are_left_out_with_a_note(leads: pd.DataFrame) -> None:
    open_leads = leads.assign(outcome=leads["outcome"].where(leads.index % 10 != 0))
    result = train(open_leads, TrainConfig(target="outcome", id_column="lead_id"))
    assert result.report["split"]["train_rows"] + result.report["split"]["holdout_rows"] == len(leads) * 9 // 10
    assert any("without an outcome" in note for note in result.report["notes"])


def test_missing_columns_are_reported(leads: pd.DataFrame) -> None:
    with pytest.raises(InvalidArgument, match="missing column: 'stage'"):
        train(leads, TrainConfig(target="stage"))
