"""The scorers behind a scoring model, and the calibrator that turns their log-odds into probabilities.

A scorer returns raw log-odds and, for every row, an exact additive split of them into one contribution per
feature plus a base value (``contributions.sum(axis=1) + base == raw_score``), from a prepared frame
(``contributions``) or from the same inputs as a float64 matrix (``contributions_array``, see
``table.encode_row``: live scoring of one lead without pandas). Two kinds exist:

- :class:`LightGBMScorer` — gradient-boosted trees; contributions are TreeSHAP values (``pred_contrib``).
- :class:`NaiveBayesScorer` — the small-data fallback; contributions are per-feature log-likelihood ratios.

To add a kind: implement the :class:`Scorer` protocol here and choose it in ``model.fit_scorer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import CategoricalNB, GaussianNB

from services.scoring.config import TrainConfig
from services.scoring.table import Feature, encode_frame

#: Calibration slices at least this large use isotonic regression; smaller ones the steadier Platt scaling.
ISOTONIC_MIN_ROWS = 1000
#: Training parts smaller than this get small trees (see ``lightgbm_params``).
SMALL_TABLE_ROWS = 5000


class Scorer(Protocol):
    kind: str

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds of a positive outcome, one per row."""
        ...

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(per-feature contributions [rows, features], base value [rows])``; they sum to ``raw_score``."""
        ...

    def contributions_array(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`contributions` of the same rows encoded as a float64 matrix (``table.encode_row``)."""
        ...


@dataclass
class LightGBMScorer:
    booster: lgb.Booster
    kind: str = "lightgbm"

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.booster.predict(X, raw_score=True, **_small_batch(X)), dtype=float)

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        values = np.asarray(self.booster.predict(X, pred_contrib=True, **_small_batch(X)), dtype=float)
        return values[:, :-1], values[:, -1]

    def contributions_array(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # A booster trained on a pandas frame takes a numpy matrix whose categorical columns hold the codes of
        # the categories it stored (``pandas_categorical``): what it makes of a frame itself, minus the copying.
        values = np.asarray(self.booster.predict(x, pred_contrib=True, **_small_batch(x)), dtype=float)
        return values[:, :-1], values[:, -1]


#: Below this many rows one thread predicts faster than starting a pool (live scoring of one lead: 10 ms → 3 ms).
SINGLE_THREAD_ROWS = 1000


def _small_batch(X: pd.DataFrame | np.ndarray) -> dict[str, Any]:
    """Prediction parameters for ``X``: one thread for a few rows, else the booster's own setting."""
    return {"num_threads": 1} if len(X) < SINGLE_THREAD_ROWS else {}


def lightgbm_params(config: TrainConfig, rows: int) -> dict[str, object]:
    # Small tables get stumpy, strongly regularised trees: a few hundred rows cannot support deep
    # interactions (measured in bench/scoring_bench.py).
    small = rows < SMALL_TABLE_ROWS
    return {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 4 if small else 31,
        "min_data_in_leaf": 20,
        "lambda_l2": 5.0 if small else 1.0,
        "min_data_per_group": 10,
        "cat_smooth": 10.0,
        "feature_fraction": 0.9,
        "seed": config.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": config.num_threads,
        "verbose": -1,
    }


def fit_lightgbm(X: pd.DataFrame, y: np.ndarray, config: TrainConfig) -> LightGBMScorer:
    """Pick the number of trees by 3-fold cross-validation on ``X`` (early stopping), then fit on all of ``X``."""
    params = lightgbm_params(config, len(X))
    history = lgb.cv(
        params,
        lgb.Dataset(X, label=y),
        num_boost_round=600,
        nfold=3,
        stratified=True,
        seed=config.seed,
        callbacks=[lgb.early_stopping(40, verbose=False)],
    )
    losses = history["valid binary_logloss-mean"]
    assert isinstance(losses, list)
    rounds = max(10, len(losses))
    return LightGBMScorer(lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=rounds))


@dataclass
class NaiveBayesScorer:
    """Gaussian likelihoods for numbers and booleans, categorical ones for text; missing numbers add nothing."""

    features: list[Feature]
    numeric: GaussianNB | None = None
    categorical: CategoricalNB | None = None
    medians: dict[str, float] = field(default_factory=dict)
    log_prior_ratio: float = 0.0
    kind: str = "naive_bayes"

    @classmethod
    def fit(cls, X: pd.DataFrame, y: np.ndarray, features: list[Feature]) -> NaiveBayesScorer:
        scorer = cls(features)
        positives = float(np.mean(y))
        scorer.log_prior_ratio = float(np.log(positives / (1 - positives)))
        numbers = scorer._numeric_names
        if numbers:
            scorer.medians = {n: float(X[n].median()) if X[n].notna().any() else 0.0 for n in numbers}
            scorer.numeric = GaussianNB().fit(X[numbers].fillna(scorer.medians).to_numpy(), y)
        if scorer._categorical_names:
            sizes = [len(f.categories) + 1 for f in features if f.kind == "categorical"]
            codes = scorer._codes(encode_frame(X, features))
            scorer.categorical = CategoricalNB(alpha=1.0, min_categories=sizes).fit(codes, y)
        return scorer

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        parts, base = self.contributions(X)
        return parts.sum(axis=1) + base

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return self.contributions_array(encode_frame(X, self.features))

    def contributions_array(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts = np.zeros((len(x), len(self.features)))
        numbers = [j for j, f in enumerate(self.features) if f.kind != "categorical"]
        categories = [j for j, f in enumerate(self.features) if f.kind == "categorical"]
        if self.numeric is not None:
            parts[:, numbers] = self._numeric_ratios(x[:, numbers])
        if self.categorical is not None:
            parts[:, categories] = self._categorical_ratios(self._codes(x))
        return parts, np.full(len(x), self.log_prior_ratio)

    @property
    def _numeric_names(self) -> list[str]:
        return [f.name for f in self.features if f.kind != "categorical"]

    @property
    def _categorical_names(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "categorical"]

    def _numeric_ratios(self, values: np.ndarray) -> np.ndarray:
        assert self.numeric is not None
        mean, var = self.numeric.theta_, self.numeric.var_
        log_pdf = [-0.5 * (np.log(2 * np.pi * var[c]) + (values - mean[c]) ** 2 / var[c]) for c in (0, 1)]
        return np.nan_to_num(log_pdf[1] - log_pdf[0], nan=0.0)

    def _categorical_ratios(self, codes: np.ndarray) -> np.ndarray:
        assert self.categorical is not None
        columns = []
        for j, table in enumerate(self.categorical.feature_log_prob_):
            columns.append(table[1, codes[:, j]] - table[0, codes[:, j]])
        return np.column_stack(columns)

    def _codes(self, x: np.ndarray) -> np.ndarray:
        """Category codes of the encoded rows ``x``; unknown and missing values share the last code ("other")."""
        columns = []
        for j, f in enumerate(self.features):
            if f.kind == "categorical":
                codes = x[:, j]
                columns.append(np.where(np.isnan(codes), len(f.categories), codes).astype(int))
        return np.column_stack(columns)


@dataclass
class Calibrator:
    """Monotone map from log-odds to probability: Platt scaling, isotonic regression, or the plain sigmoid."""

    method: str = "sigmoid"
    model: LogisticRegression | IsotonicRegression | None = None

    @classmethod
    def fit(cls, raw: np.ndarray, y: np.ndarray) -> Calibrator:
        if len(np.unique(y)) < 2:
            return cls()
        if len(raw) >= ISOTONIC_MIN_ROWS:
            return cls("isotonic", IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y))
        return cls("platt", LogisticRegression(C=1e4).fit(raw.reshape(-1, 1), y))

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        if isinstance(self.model, IsotonicRegression):
            return np.clip(self.model.predict(raw), 1e-4, 1 - 1e-4)
        if isinstance(self.model, LogisticRegression):
            return self.model.predict_proba(raw.reshape(-1, 1))[:, 1]
        return 1.0 / (1.0 + np.exp(-raw))

    def one(self, raw: float) -> float:
        """``self(np.array([raw]))[0]``, without scikit-learn's input checks (a tenth of a millisecond a call):
        the same arithmetic on the fitted attributes."""
        values = np.array([raw], dtype=float)
        if isinstance(self.model, IsotonicRegression):  # IsotonicRegression.predict with out_of_bounds="clip"
            inside = np.clip(values, self.model.X_min_, self.model.X_max_)
            return float(np.clip(self.model.f_(inside), 1e-4, 1 - 1e-4)[0])
        if isinstance(self.model, LogisticRegression):  # predict_proba of a binary model: expit(X @ coef.T + b)
            return float(expit(values * self.model.coef_[0, 0] + self.model.intercept_[0])[0])
        return float(self(values)[0])
