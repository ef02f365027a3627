"""Scoring one row without pandas (``ScoringModel.score_row``, live scoring of one lead) gives exactly what the
pandas path gives a one-row frame: probability, contributions, base value, factor sentences and errors, for
trees and the naive-Bayes fallback, every calibration method, and rows with gaps, unseen categories, booleans
written as text and numbers written as text or given as numpy scalars."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from services.common.errors import InvalidArgument
from services.scoring.config import TrainConfig
from services.scoring.estimators import Calibrator, LightGBMScorer
from services.scoring.explain import top_factors
from services.scoring.model import RowScore, ScoringModel, TrainResult, train
from services.scoring.table import encode_frame, encode_row

Row = dict[str, Any]
TOLERANCE = 1e-12


def pandas_score(model: ScoringModel, row: Row, per_side: int) -> RowScore:
    """The path live scoring took before ``score_row``: a one-row frame through ``prepare_features``."""
    frame = pd.DataFrame([{f.name: row.get(f.name, np.nan) for f in model.features}])
    parts, base = model.scorer.contributions(model.inputs(frame))
    base_value = float(np.asarray(base).reshape(-1)[0])
    probability = float(model.calibrator(np.asarray([parts[0].sum() + base_value]))[0])
    factors = top_factors(frame.iloc[0], parts[0], model.features, per_side=per_side)
    return RowScore(probability, base_value, parts[0], factors)


def assert_same(expected: RowScore, got: RowScore) -> None:
    assert got.probability == pytest.approx(expected.probability, rel=0, abs=TOLERANCE)
    assert got.base_value == pytest.approx(expected.base_value, rel=0, abs=TOLERANCE)
    np.testing.assert_allclose(got.contributions, expected.contributions, rtol=0, atol=TOLERANCE)
    assert [dataclasses.replace(f, contribution=0.0) for f in got.factors] == [
        dataclasses.replace(f, contribution=0.0) for f in expected.factors
    ]
    np.testing.assert_allclose(
        [f.contribution for f in got.factors], [f.contribution for f in expected.factors], rtol=0, atol=TOLERANCE
    )


# --- the models: trees with each calibration method, and the naive-Bayes fallback --------------------------------


@pytest.fixture(scope="module")
def naive_bayes(few_leads: Callable[[int, int], pd.DataFrame]) -> TrainResult:
    return train(few_leads(30, 30), TrainConfig(target="outcome", time_column="created_at", id_column="lead_id"))


def _isotonic() -> Calibrator:
    rng = np.random.default_rng(3)
    raw = rng.normal(0, 2, 2000)
    calibrator = Calibrator.fit(raw, (rng.random(2000) < 1 / (1 + np.exp(-raw))).astype(float))
    assert calibrator.method == "isotonic"
    return calibrator


@pytest.fixture(scope="module", params=["trees/platt", "trees/isotonic", "trees/sigmoid", "naive_bayes/platt"])
def model(request: pytest.FixtureRequest, trained: TrainResult, naive_bayes: TrainResult) -> ScoringModel:
    kind, calibration = request.param.split("/")
    fitted = trained.model if kind == "trees" else naive_bayes.model
    assert fitted.calibrator.method == "platt" and fitted.kind == ("lightgbm" if kind == "trees" else "naive_bayes")
    replacements = {"isotonic": _isotonic(), "sigmoid": Calibrator()}
    return dataclasses.replace(fitted, calibrator=replacements.get(calibration, fitted.calibrator))


# --- the rows ------------------------------------------------------------------------------------------------------

UNSEEN = ("aerospace", " software ", "Software", 3, 2.5, True)
BOOLEANS = ("yes", "No", " TRUE ", "false", 1, 0, 1.0, "1", "0.0", np.True_, np.int64(0), True, None, np.nan)


def _numpy(row: Row) -> Row:
    return {k: np.array([v])[0] for k, v in row.items()}


def _text(row: Row) -> Row:
    return {k: str(v) for k, v in row.items()}


def _gaps(row: Row, i: int) -> Row:
    names = ["industry", "company_size", "price_inquiries_30d", "days_since_last_touch", "demo_requested"]
    gapped = dict(row, **{names[i % 5]: None, names[(i + 1) % 5]: np.nan})
    gapped.pop(names[(i + 2) % 5])
    if i % 3 == 0:
        gapped["industry"] = UNSEEN[i % len(UNSEEN)]
    if i % 4 == 0:
        gapped["budget_freeze_mentions"] = pd.NA
    return gapped


def _odd_values(row: Row, i: int) -> Row:
    """Booleans written every way, numbers as text, numpy scalars and decimals."""
    return dict(
        row,
        demo_requested=BOOLEANS[i % len(BOOLEANS)],
        company_size=[f" {row['company_size']} ", np.float32(row["company_size"]), Decimal(row["company_size"])][i % 3],
        price_inquiries_30d=[f"{row['price_inquiries_30d']}e0", np.uint8(row["price_inquiries_30d"])][i % 2],
        days_since_last_touch=[float(row["days_since_last_touch"]) + 0.25, np.int32(row["days_since_last_touch"])][
            i % 2
        ],
    )


VARIANTS: dict[str, Callable[[Row, int], Row]] = {
    "numpy scalars": lambda row, i: _numpy(row),
    "all text": lambda row, i: _text(row),
    "gaps and unseen categories": _gaps,
    "odd values": _odd_values,
}


def test_every_lead_of_the_table_scores_the_same_without_pandas(model: ScoringModel, leads: pd.DataFrame) -> None:
    for row in leads.to_dict("records"):
        assert_same(pandas_score(model, row, per_side=3), model.score_row(row, per_side=3))


@pytest.mark.parametrize("variant", VARIANTS)
def test_unusual_rows_score_the_same_without_pandas(model: ScoringModel, leads: pd.DataFrame, variant: str) -> None:
    for i, row in enumerate(leads.head(60).to_dict("records")):
        unusual = VARIANTS[variant](row, i)
        assert_same(pandas_score(model, unusual, per_side=10), model.score_row(unusual, per_side=10))


def test_encoded_rows_are_the_prepared_frame(trained: TrainResult, leads: pd.DataFrame) -> None:
    features = trained.model.features
    for i, row in enumerate(leads.head(60).to_dict("records")):
        for variant in VARIANTS.values():
            unusual = variant(row, i)
            frame = pd.DataFrame([{f.name: unusual.get(f.name, np.nan) for f in features}])
            expected = encode_frame(trained.model.inputs(frame), features)
            np.testing.assert_array_equal(encode_row(unusual, features), expected)


def test_plain_rows_never_touch_pandas(
    trained: TrainResult, naive_bayes: TrainResult, leads: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [_gaps(row, i) for i, row in enumerate(leads.head(12).to_dict("records"))]
    rows += [dict(row, demo_requested=b) for row, b in zip(leads.head(12).to_dict("records"), BOOLEANS, strict=False)]

    def no_pandas(*args: object, **kwargs: object) -> None:
        raise AssertionError("pandas used on the single-row path")

    monkeypatch.setattr(pd, "DataFrame", no_pandas)
    monkeypatch.setattr(pd, "Series", no_pandas)
    for row in rows:
        if row.get("budget_freeze_mentions") is pd.NA:
            continue  # pd.NA is not a plain value: it takes the pandas route
        trained.model.score_row(row)
        naive_bayes.model.score_row(row)


# --- LightGBM reads the codes of the categories it stored as a pandas frame ---------------------------------------


def test_lightgbm_takes_category_codes_as_it_takes_pandas_categoricals(
    trained: TrainResult, leads: pd.DataFrame
) -> None:
    scorer = trained.model.scorer
    assert isinstance(scorer, LightGBMScorer)
    categorical = [f for f in trained.model.features if f.kind == "categorical"]
    assert scorer.booster.pandas_categorical == [list(f.categories) for f in categorical]
    unseen = leads.assign(industry=leads["industry"].where(leads.index % 5 != 0, "aerospace"))
    X = trained.model.inputs(unseen)
    x = encode_frame(X, trained.model.features)
    assert np.isnan(x[::5, 0]).all()
    for options in ({"raw_score": True}, {"pred_contrib": True}, {"pred_contrib": True, "num_threads": 1}):
        np.testing.assert_array_equal(scorer.booster.predict(x, **options), scorer.booster.predict(X, **options))


# --- errors --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("company_size", "abc"),
        ("company_size", ""),
        ("company_size", "nan"),
        ("price_inquiries_30d", "4 inquiries"),
        ("demo_requested", "maybe"),
        ("demo_requested", 2),
        ("demo_requested", np.int64(2)),
        ("demo_requested", 0.5),
        ("demo_requested", ""),
        ("demo_requested", "-0.0"),
    ],
)
def test_bad_values_raise_the_same_error(model: ScoringModel, leads: pd.DataFrame, column: str, value: object) -> None:
    row = dict(leads.iloc[0].to_dict(), **{column: value})
    with pytest.raises(InvalidArgument) as expected:
        pandas_score(model, row, per_side=3)
    with pytest.raises(InvalidArgument) as got:
        model.score_row(row)
    assert (got.value.message, got.value.field) == (expected.value.message, expected.value.field)
    assert repr(column) in got.value.message


# --- the calibrator on one value -----------------------------------------------------------------------------------

RAW = [-1e6, -35.0, -4.0, -0.5, -1e-9, 0.0, 1e-9, 0.37, 2.0, 6.5, 40.0, 1e6]


@pytest.mark.parametrize("method", ["platt", "isotonic", "sigmoid"])
def test_calibrator_on_one_value_is_the_calibrator_on_an_array(method: str, trained: TrainResult) -> None:
    calibrator = {"platt": trained.model.calibrator, "isotonic": _isotonic(), "sigmoid": Calibrator()}[method]
    assert calibrator.method == method
    with np.errstate(over="ignore"):  # the plain sigmoid of -1e6
        for raw in RAW + list(np.random.default_rng(5).normal(0, 3, 200)):
            expected = float(calibrator(np.array([raw]))[0])
            assert calibrator.one(raw) == pytest.approx(expected, rel=0, abs=TOLERANCE)
