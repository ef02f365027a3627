"""Fixtures: the synthetic lead table (known generating model, fixed seed) and models trained on it once."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from services.scoring.config import TrainConfig
from services.scoring.model import TrainResult, train
from services.scoring.synthetic import make_leads, sample_leads


@pytest.fixture(scope="session")
def leads() -> pd.DataFrame:
    """800 leads over two years: industry, company_size, price_inquiries_30d, days_since_last_touch,
    demo_requested, budget_freeze_mentions, an owner e-mail (free text) and a Won/Lost outcome."""
    return make_leads()


@pytest.fixture(scope="session")
def few_leads() -> Callable[[int, int], pd.DataFrame]:
    """``few_leads(won, lost)``: a small table with exactly that many of each outcome."""
    return sample_leads


@pytest.fixture(scope="session")
def trained(leads: pd.DataFrame) -> TrainResult:
    """Trees on the lead table with a stratified split."""
    return train(leads, TrainConfig(target="outcome", id_column="lead_id"))


@pytest.fixture(scope="session")
def trained_by_time(leads: pd.DataFrame) -> TrainResult:
    """Trees on the lead table with the latest 20% held out."""
    return train(leads, TrainConfig(target="outcome", time_column="created_at", id_column="lead_id"))
