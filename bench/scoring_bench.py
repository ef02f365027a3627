"""Benchmark: lead-scoring AUC of salesai's trees vs its naive-Bayes fallback vs a logistic-regression baseline.

All three see the same synthetic lead table (``services.scoring.synthetic``), the same time split (latest 20%
held out) and the same feature columns. The logistic regression is the usual baseline pipeline: one-hot
categoricals, median-imputed standardised numbers, no hand-made features. "oracle" is the AUC of the true
generating log-odds on the held-out rows: the ceiling no model can beat on average.

Two tables: ``additive`` (log-odds linear in the columns, bar log(company size) and the industry) and
``interactions`` (saturating, thresholded and interacting effects, as real funnels have).

    .venv/bin/python bench/scoring_bench.py [--rows 800 5000] [--seeds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from services.scoring.config import TrainConfig  # noqa: E402
from services.scoring.model import TrainResult, train  # noqa: E402
from services.scoring.synthetic import make_leads, true_log_odds  # noqa: E402

MODELS = ("lightgbm", "naive_bayes", "logistic", "oracle")


def logistic_auc(frame: pd.DataFrame, result: TrainResult) -> float:
    """The baseline on exactly the rows and columns the trees used."""
    features = result.model.features
    categorical = [f.name for f in features if f.kind == "categorical"]
    numeric = [f.name for f in features if f.kind != "categorical"]
    X = result.model.inputs(frame).astype({c: object for c in categorical})
    y = (frame["outcome"] == "Won").to_numpy()
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ]
        ),
        LogisticRegression(max_iter=2000),
    )
    train_rows, holdout = result.split.train, result.split.holdout
    pipeline.fit(X.loc[train_rows], y[train_rows])
    return float(roc_auc_score(y[holdout], pipeline.predict_proba(X.loc[holdout])[:, 1]))


def one_run(rows: int, seed: int, interactions: bool) -> dict[str, float]:
    frame = make_leads(rows=rows, seed=seed, interactions=interactions)
    config = {"target": "outcome", "time_column": "created_at", "id_column": "lead_id"}
    started = time.perf_counter()
    trees = train(frame, TrainConfig(**config))
    seconds = time.perf_counter() - started
    naive = train(frame, TrainConfig(**config, min_per_class=10**9))  # forces the small-data fallback
    holdout = trees.split.holdout
    truth = (frame.loc[holdout, "outcome"] == "Won").to_numpy()
    return {
        "lightgbm": trees.report["holdout"]["auc"],
        "naive_bayes": naive.report["holdout"]["auc"],
        "logistic": logistic_auc(frame, trees),
        "oracle": float(roc_auc_score(truth, true_log_odds(frame.loc[holdout], interactions))),
        "train_seconds": seconds,
        "brier": trees.report["holdout"]["brier"],
        "calibration_gap": abs(trees.report["holdout"]["mean_predicted"] - trees.report["holdout"]["positive_rate"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[800, 5000])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    print(f"{'table':<13}{'rows':>6}  " + "".join(f"{m:>13}" for m in MODELS) + f"{'train s':>9}{'Brier':>7}")
    for interactions in (False, True):
        for rows in args.rows:
            runs = [one_run(rows, seed, interactions) for seed in range(1, args.seeds + 1)]
            mean = {k: statistics.fmean(r[k] for r in runs) for k in runs[0]}
            spread = {m: float(np.std([r[m] for r in runs])) for m in MODELS}
            table = "interactions" if interactions else "additive"
            results.append({"table": table, "rows": rows, "seeds": args.seeds, "mean": mean, "std": spread})
            cells = "".join(f"{mean[m]:>8.3f}±{spread[m]:.2f}" for m in MODELS)
            print(f"{table:<13}{rows:>6}  {cells}{mean['train_seconds']:>9.2f}{mean['brier']:>7.3f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
