"""Reading tables, normalising targets and typing feature columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from services.common.errors import InvalidArgument, NotFound
from services.scoring.table import Feature, parse_target, parse_times, plan_features, prepare_features, read_table


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["won", "Lost", "WON", " lost "], [1, 0, 1, 0]),
        (["yes", "No", "YES", "no"], [1, 0, 1, 0]),
        (["true", "False", "TRUE", "false"], [1, 0, 1, 0]),
        ([1, 0, 1, 0], [1, 0, 1, 0]),
        ([1.0, 0.0, 1.0, 0.0], [1, 0, 1, 0]),
        (["1", "0", "1", "0"], [1, 0, 1, 0]),
        ([True, False, True, False], [1, 0, 1, 0]),
    ],
)
def test_target_values_are_normalised(values: list[object], expected: list[int]) -> None:
    assert parse_target(pd.Series(values, name="outcome")).tolist() == expected


def test_missing_target_values_stay_missing() -> None:
    parsed = parse_target(pd.Series(["won", None, "lost"], name="outcome"))
    assert parsed.isna().tolist() == [False, True, False]


@pytest.mark.parametrize("values", [["won", "maybe", "lost", "pending"], [0, 1, 2], ["yes", "n/a"]])
def test_unparseable_target_names_the_bad_values(values: list[object]) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse_target(pd.Series(values, name="outcome"))
    bad = [v for v in values if str(v).lower() not in ("won", "lost", "yes", "no", "0", "1")]
    assert "'outcome'" in err.value.message
    for value in bad:
        assert repr(value) in err.value.message


def test_columns_are_typed_and_unusable_ones_dropped_with_a_note() -> None:
    frame = pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(60)],
            "industry": ["retail", "software", "finance"] * 20,
            "seats": np.arange(60),
            "demo_requested": ["yes", "no"] * 30,
            "trial": [True, False] * 30,
            "notes": [f"called on day {i}" for i in range(60)],
            "signed_on": [f"2024-03-{1 + i % 28:02d}" for i in range(60)],
            "always_one": [1] * 60,
            "empty": [None] * 60,
            "outcome": ["won", "lost"] * 30,
        }
    )
    plan = plan_features(frame, exclude={"lead_id", "outcome"}, max_categories=50)
    assert plan.features == [
        Feature("industry", "categorical", ("finance", "retail", "software")),
        Feature("seats", "numeric"),
        Feature("demo_requested", "boolean"),
        Feature("trial", "boolean"),
    ]
    dropped = " ".join(plan.notes)
    for column in ("notes", "signed_on", "always_one", "empty"):
        assert f"'{column}'" in dropped
    assert "free text" in dropped


def test_prepared_features_use_trained_categories_and_flag_non_numbers() -> None:
    features = [Feature("industry", "categorical", ("retail", "software")), Feature("seats", "numeric")]
    X = prepare_features(pd.DataFrame({"industry": ["retail", "mining"], "seats": ["3", None]}), features)
    assert list(X["industry"].cat.categories) == ["retail", "software"]
    assert X["industry"].isna().tolist() == [False, True]  # unseen category → missing, not an error
    assert X["seats"].tolist()[0] == 3.0
    with pytest.raises(InvalidArgument, match="'seats'.*expected numbers"):
        prepare_features(pd.DataFrame({"industry": ["retail"], "seats": ["many"]}), features)
    with pytest.raises(InvalidArgument, match="missing feature column: 'seats'"):
        prepare_features(pd.DataFrame({"industry": ["retail"]}), features)


def test_time_column_must_hold_dates() -> None:
    with pytest.raises(InvalidArgument, match="not dates: 'soon'"):
        parse_times(pd.Series(["2024-01-01", "soon"], name="created_at"))
    assert parse_times(pd.Series(["2024-01-02", "2024-01-01"], name="t")).is_monotonic_decreasing


def test_read_table_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="not found"):
        read_table(tmp_path / "absent.csv")
    with pytest.raises(InvalidArgument, match=r"\.csv or \.parquet"):
        read_table(tmp_path / "leads.xlsx")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InvalidArgument, match="empty"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(InvalidArgument, match="no rows"):
        read_table(tmp_path / "header.csv")
    (tmp_path / "broken.parquet").write_text("not parquet")
    with pytest.raises(InvalidArgument, match="could not be read"):
        read_table(tmp_path / "broken.parquet")


def test_csv_and_parquet_read_the_same_table(tmp_path: Path, leads: pd.DataFrame) -> None:
    leads.to_csv(tmp_path / "leads.csv", index=False)
    leads.to_parquet(tmp_path / "leads.parquet", index=False)
    from_csv, from_parquet = read_table(tmp_path / "leads.csv"), read_table(tmp_path / "leads.parquet")
    assert list(from_csv.columns) == list(from_parquet.columns) == list(leads.columns)
    assert len(from_csv) == len(from_parquet) == len(leads)
