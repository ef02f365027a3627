"""Live scoring of one lead (``LiveScorer.score``) from a real file registry: the same probability, base value and
factors as the pandas path it replaced, for leads whose CRM fields arrive as a protobuf Struct gives them
(numbers as floats, booleans, text), with gaps and unseen values, for trees and the naive-Bayes fallback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from services.leads.scorer import LiveScorer, feature_row
from services.leads.store import LeadHistory, LeadRecord
from services.scoring.explain import top_factors
from services.scoring.model import TrainResult
from services.scoring.registry import ScoringRegistry
from services.suggestions.domain import InteractionView, Prediction

AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
#: CRM custom fields as the leads service stores them from a protobuf Struct
FIELDS: list[dict[str, Any]] = [
    {"industry": "software", "company_size": 400.0, "demo_requested": True},
    {"industry": "retail", "company_size": 12.0, "demo_requested": False},
    {"industry": "aerospace", "company_size": 2500.0, "demo_requested": "yes"},  # an unseen industry
    {"industry": " finance ", "demo_requested": "No"},  # no company size
    {"company_size": 80.0, "demo_requested": 1.0},
    {},
]
#: the customer's messages, (hours before AS_OF, intent, risk)
MESSAGES = [(300, "info_request", None), (90, "pricing_inquiry", None), (20, "pricing_inquiry", "budget_freeze")]


def _history(n: int, fields: dict[str, Any]) -> LeadHistory:
    created = AS_OF - timedelta(days=40)
    lead = LeadRecord(
        tenant_id="acme",
        lead_id=f"L-{n}",
        customer_id="",
        stage="proposal" if n % 2 else "",
        owner="",
        language="en",
        fields=fields,
        stage_entered_at=created,
        last_touch_at=AS_OF - timedelta(days=n) if n % 3 else None,
        created_at=created,
        updated_at=created,
    )
    views = []
    for i, (hours, intent, risk) in enumerate(MESSAGES[: n % 4]):
        predictions = [Prediction(task="intent", label=intent, confidence=0.9)]
        predictions += [Prediction(task="risk", label=risk, confidence=0.8)] if risk else []
        views.append(
            InteractionView(id=f"m-{n}-{i}", occurred_at=AS_OF - timedelta(hours=hours), predictions=predictions)
        )
    return LeadHistory(lead=lead, interactions=tuple(views))


def _pandas_score(scorer: LiveScorer, history: LeadHistory, top: int) -> tuple[float, float, list[Any]]:
    """What ``LiveScorer.score`` computed before it scored without pandas."""
    _, model, _ = scorer.model()
    row = feature_row(history, AS_OF, scorer.window_days)
    frame = pd.DataFrame([{f.name: row.get(f.name, np.nan) for f in model.features}])
    parts, base = model.scorer.contributions(model.inputs(frame))
    base_value = float(np.asarray(base).reshape(-1)[0])
    probability = float(model.calibrator(np.asarray([parts[0].sum() + base_value]))[0])
    return probability, base_value, top_factors(frame.iloc[0], parts[0], model.features, per_side=top)


@pytest.mark.parametrize("result_name", ["trees", "naive_bayes"])
@pytest.mark.parametrize("top", [2, 100])
def test_live_score_is_the_pandas_score(
    result_name: str, top: int, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    result: TrainResult = request.getfixturevalue(result_name)
    registry = ScoringRegistry(tmp_path / "scoring")
    registry.register("default", result, {"file": "synthetic", "rows": 0})
    scorer = LiveScorer(registry)
    for n, fields in enumerate(FIELDS * 2):
        history = _history(n, fields)
        probability, base_value, factors = _pandas_score(scorer, history, top)
        score = scorer.score(history, top=top, as_of=AS_OF)
        assert score.probability == pytest.approx(probability, rel=0, abs=1e-12)
        assert score.base_value == pytest.approx(base_value, rel=0, abs=1e-12)
        assert [(f.feature, f.value, f.text_en, f.text_zh) for f in score.factors] == [
            (f.feature, f.value, f.text_en, f.text_zh) for f in factors
        ]
        np.testing.assert_allclose(
            [f.contribution for f in score.factors], [f.contribution for f in factors], rtol=0, atol=1e-12
        )
        assert score.model_kind == result.model.kind and score.lead_id == f"L-{n}"
