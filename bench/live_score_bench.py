"""Benchmark: scoring one lead as live scoring does, the pandas path (a one-row frame through
``prepare_features``, LightGBM's ``_data_from_pandas``, scikit-learn's calibrator) against
``ScoringModel.score_row`` (a float64 row straight into the booster), on the same model in the same run.

Every call scores one lead of the synthetic table with 5 factors per side, the two paths alternating lead by
lead so that both see the same machine load; per-call p50 and p90 in microseconds, for the trees and for the
naive-Bayes fallback. The two paths' results are checked to agree before anything is timed.

    .venv/bin/python bench/live_score_bench.py [--calls 2000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from services.scoring.config import TrainConfig  # noqa: E402
from services.scoring.explain import top_factors  # noqa: E402
from services.scoring.model import ScoringModel, train  # noqa: E402
from services.scoring.synthetic import make_leads  # noqa: E402

PER_SIDE = 5


def pandas_path(model: ScoringModel, row: dict[str, Any]) -> tuple[float, list[Any]]:
    """Live scoring as it was: a one-row frame through the batch code."""
    frame = pd.DataFrame([{f.name: row.get(f.name, np.nan) for f in model.features}])
    parts, base = model.scorer.contributions(model.inputs(frame))
    base_value = float(np.asarray(base).reshape(-1)[0])
    probability = float(model.calibrator(np.asarray([parts[0].sum() + base_value]))[0])
    return probability, top_factors(frame.iloc[0], parts[0], model.features, per_side=PER_SIDE)


def row_path(model: ScoringModel, row: dict[str, Any]) -> tuple[float, list[Any]]:
    scored = model.score_row(row, per_side=PER_SIDE)
    return scored.probability, scored.factors


PATHS: dict[str, Callable[[ScoringModel, dict[str, Any]], tuple[float, list[Any]]]] = {
    "pandas": pandas_path,
    "score_row": row_path,
}


def timed(model: ScoringModel, rows: list[dict[str, Any]], calls: int) -> dict[str, dict[str, float]]:
    for row in rows[:50]:  # warm-up, and the two paths must agree
        (p_old, f_old), (p_new, f_new) = pandas_path(model, row), row_path(model, row)
        if abs(p_old - p_new) > 1e-12 or [f.text_en for f in f_old] != [f.text_en for f in f_new]:
            raise SystemExit(f"the paths disagree on {row}")
    seconds: dict[str, list[float]] = {name: [] for name in PATHS}
    for i in range(calls):
        row = rows[i % len(rows)]
        for name, path in PATHS.items():
            started = time.perf_counter()
            path(model, row)
            seconds[name].append(time.perf_counter() - started)
    return {name: _summary(values) for name, values in seconds.items()}


def _summary(seconds: list[float]) -> dict[str, float]:
    micros = sorted(s * 1e6 for s in seconds)
    return {"p50_us": statistics.median(micros), "p90_us": micros[int(0.9 * len(micros))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per path and model")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    table = make_leads()
    config = {"target": "outcome", "time_column": "created_at", "id_column": "lead_id"}
    models = {
        "lightgbm": train(table, TrainConfig(**config)).model,
        "naive_bayes": train(table, TrainConfig(**config, min_per_class=10**9)).model,
    }
    rows = table.to_dict("records")
    results = {}
    print(f"{'model':<12} {'path':<10} {'p50 µs':>9} {'p90 µs':>9}")
    for kind, model in models.items():
        assert model.kind == kind
        results[kind] = timed(model, rows, args.calls)
        for name, figures in results[kind].items():
            print(f"{kind:<12} {name:<10} {figures['p50_us']:>9.0f} {figures['p90_us']:>9.0f}")
        speedup = results[kind]["pandas"]["p50_us"] / results[kind]["score_row"]["p50_us"]
        results[kind]["p50_speedup"] = {"x": speedup}
        print(f"{kind:<12} p50 speed-up ×{speedup:.0f}")
    if args.json:
        args.json.write_text(json.dumps({"calls": args.calls, "per_side": PER_SIDE, **results}, indent=2))


if __name__ == "__main__":
    main()
