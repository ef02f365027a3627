"""A synthetic but realistic lead table with a known generating model, for tests, benchmarks and demos.

The outcome is drawn from a logistic function of a few columns plus noise, so how well a model recovers it
(AUC, calibration, which factors it names) can be checked against the truth. ``interactions=True`` adds
effects a linear model cannot express: a demo only helps larger companies, silence hurts only after two
weeks, and price enquiries saturate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

INDUSTRY_EFFECT = {
    "software": 0.9,
    "finance": 0.45,
    "manufacturing": 0.0,
    "retail": -0.45,
    "education": -0.9,
    "healthcare": 0.15,
}


def true_log_odds(frame: pd.DataFrame, interactions: bool = False) -> np.ndarray:
    """The generating model: price enquiries are the strongest driver, budget-freeze mentions the worst news."""
    inquiries, silence = frame["price_inquiries_30d"], frame["days_since_last_touch"]
    demo, size = frame["demo_requested"].astype(float), frame["company_size"]
    industry = frame["industry"].map(INDUSTRY_EFFECT)
    if not interactions:
        linear = -2.2 + 1.3 * inquiries - 0.09 * silence + 1.6 * demo + 0.4 * np.log10(size)
        return (linear - 2.0 * frame["budget_freeze_mentions"] + industry).to_numpy()
    saturating = 2.4 * np.tanh(inquiries / 2.0)
    stale = -0.15 * np.clip(silence - 14, 0, None)
    demo_for_large = 2.2 * demo * (size >= 300)
    freeze = -2.5 * (frame["budget_freeze_mentions"] > 0)
    return (-1.6 + saturating + stale + demo_for_large + freeze + industry * (size < 1000)).to_numpy()


def make_leads(rows: int = 800, seed: int = 7, interactions: bool = False) -> pd.DataFrame:
    """``rows`` leads created over two years, oldest first, with a Won/Lost ``outcome`` drawn from the model."""
    rng = np.random.default_rng(seed)
    days = np.sort(rng.uniform(0, 730, rows))
    frame = pd.DataFrame(
        {
            "lead_id": [f"L{i:05d}" for i in range(rows)],
            "created_at": (pd.Timestamp("2023-01-01") + pd.to_timedelta(days, unit="D")).round("s"),
            "industry": rng.choice(list(INDUSTRY_EFFECT), rows),
            "company_size": np.round(10 ** rng.uniform(1, 4, rows)).astype(int),
            "price_inquiries_30d": rng.poisson(1.3, rows),
            "days_since_last_touch": rng.exponential(12, rows).round().astype(int),
            "demo_requested": rng.random(rows) < 0.35,
            "budget_freeze_mentions": rng.poisson(0.35, rows),
            "owner_email": [f"rep{rng.integers(1_000_000)}@example.com" for _ in range(rows)],
        }
    )
    noisy = true_log_odds(frame, interactions) + rng.normal(0, 0.4, rows)
    frame["outcome"] = np.where(rng.random(rows) < 1 / (1 + np.exp(-noisy)), "Won", "Lost")
    return frame


def sample_leads(won: int, lost: int, seed: int = 7) -> pd.DataFrame:
    """Exactly ``won`` won and ``lost`` lost leads, in time order."""
    frame = make_leads(seed=seed)
    picked = [
        frame[frame["outcome"] == "Won"].sample(won, random_state=seed),
        frame[frame["outcome"] == "Lost"].sample(lost, random_state=seed),
    ]
    return pd.concat(picked).sort_values("created_at").reset_index(drop=True)
