"""Factor sentences: data-driven from the column name and the value, in English and Chinese."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.scoring.explain import render_value, top_factors, zh_label
from services.scoring.table import Feature


@pytest.mark.parametrize(
    ("column", "label"),
    [
        ("price_inquiries_30d", "近30天询价次数"),
        ("days_since_last_touch", "距上次跟进天数"),
        ("budget_freeze_mentions", "预算冻结提及次数"),
        ("industry", "行业"),
        ("emails_7d", "近7天邮件数"),
        ("companySize", "公司规模"),
        ("zodiac_sign", "zodiac_sign"),  # an unknown word keeps the column's own name
    ],
)
def test_zh_labels(column: str, label: str) -> None:
    assert zh_label(column) == label


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (4.0, "numeric", (4, "4", "4")),
        (np.float64(0.12345), "numeric", (0.12345, "0.1235", "0.1235")),
        (1.0, "boolean", (True, "yes", "是")),
        (False, "boolean", (False, "no", "否")),
        ("retail", "categorical", ("retail", "retail", "retail")),
        (float("nan"), "numeric", (None, "missing", "缺失")),
    ],
)
def test_render_value(value: object, kind: str, expected: tuple[object, str, str]) -> None:
    assert render_value(value, kind) == expected


def test_top_factors_keep_three_per_side_strongest_first() -> None:
    features = [Feature(f"f{i}", "numeric") for i in range(8)]
    row = pd.Series({f"f{i}": i for i in range(8)})
    contributions = np.array([0.1, -0.2, 1.5, -3.0, 0.4, 0.05, -0.01, 0.0])
    factors = top_factors(row, contributions, features)
    assert [f.feature for f in factors] == ["f2", "f4", "f0", "f3", "f1", "f6"]
    assert factors[0].text_en == "f2 = 2 strongly raised the score"
    assert factors[1].text_en == "f4 = 4 raised the score"
    assert factors[3].text_en == "f3 = 3 strongly lowered the score"


def test_sentences_in_both_languages() -> None:
    features = [Feature("price_inquiries_30d", "numeric"), Feature("demo_requested", "boolean")]
    row = pd.Series({"price_inquiries_30d": 4, "demo_requested": False})
    up, down = top_factors(row, np.array([0.6, -0.3]), features)
    assert (up.text_en, up.text_zh) == ("price_inquiries_30d = 4 raised the score", "近30天询价次数 = 4 提高了评分")
    assert (down.text_en, down.text_zh) == ("demo_requested = no lowered the score", "已申请演示 = 否 降低了评分")
