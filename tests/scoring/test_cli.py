"""``salesai scoring`` end to end through the real CLI app, with the data folder in a temporary directory."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from services.cli import app


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SALESAI_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def files(tmp_path: Path, leads: pd.DataFrame) -> dict[str, Path]:
    paths = {"csv": tmp_path / "leads.csv", "parquet": tmp_path / "leads.parquet", "new": tmp_path / "new.csv"}
    leads.to_csv(paths["csv"], index=False)
    leads.to_parquet(paths["parquet"], index=False)
    leads.drop(columns=["outcome"]).head(25).to_csv(paths["new"], index=False)
    return paths


def invoke(*args: str | Path) -> object:
    return CliRunner().invoke(app, ["scoring", *map(str, args)])


def test_train_predict_versions_revert(data_dir: Path, files: dict[str, Path]) -> None:
    trained = invoke("train", "--data", files["csv"], "--target", "outcome", "--time-column", "created_at",
                     "--id-column", "lead_id")  # fmt: skip
    assert trained.exit_code == 0, trained.output
    auc = float(trained.stdout.strip().removeprefix("held-out AUC: "))
    assert auc >= 0.75
    assert "registered default v1" in trained.stderr
    assert (data_dir / "scoring" / "default" / "v1" / "metrics.json").is_file()

    again = invoke("train", "--data", files["parquet"], "--target", "outcome", "--id-column", "lead_id")
    assert again.exit_code == 0, again.output

    predicted = invoke("predict", "--data", files["new"])
    assert predicted.exit_code == 0, predicted.output
    lines = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert [line["id"] for line in lines] == [f"L{i:05d}" for i in range(25)]
    for line in lines:
        assert 0 < line["probability"] < 1
        assert 1 <= len(line["factors"]) <= 6
        assert set(line["factors"][0]) == {"feature", "value", "contribution", "text_en", "text_zh"}

    listed = invoke("versions")
    assert listed.exit_code == 0 and "v1" in listed.stderr and "v2" in listed.stderr

    reverted = invoke("revert")
    assert reverted.exit_code == 0 and "current is now v1 (was v2)" in reverted.stderr
    assert (data_dir / "scoring" / "default" / "current").read_text().strip() == "v1"
    assert invoke("revert").exit_code == 1


def test_predict_without_an_id_column_numbers_the_rows(data_dir: Path, files: dict[str, Path]) -> None:
    assert invoke("train", "--data", files["csv"], "--target", "outcome", "--name", "noid").exit_code == 0
    predicted = invoke("predict", "--data", files["new"], "--name", "noid")
    assert [json.loads(line)["id"] for line in predicted.stdout.splitlines()] == list(range(25))


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing_file", "not found"),
        ("missing_column", "missing column: 'stage'"),
        ("bad_target", "not yes/no"),
        ("empty_table", "no rows"),
        ("predict_missing_columns", "missing feature column"),
        ("predict_without_model", "no scoring model named 'default'"),
    ],
)
def test_bad_input_is_one_error_line(
    case: str, message: str, data_dir: Path, files: dict[str, Path], tmp_path: Path, leads: pd.DataFrame
) -> None:
    bad = tmp_path / "bad.csv"
    if case == "missing_file":
        result = invoke("train", "--data", tmp_path / "absent.csv", "--target", "outcome")
    elif case == "missing_column":
        result = invoke("train", "--data", files["csv"], "--target", "stage")
    elif case == "bad_target":
        leads.assign(outcome=["won", "lost", "maybe", "lost"] * (len(leads) // 4)).to_csv(bad, index=False)
        result = invoke("train", "--data", bad, "--target", "outcome")
    elif case == "empty_table":
        bad.write_text(",".join(leads.columns) + "\n")
        result = invoke("train", "--data", bad, "--target", "outcome")
    elif case == "predict_missing_columns":
        assert invoke("train", "--data", files["csv"], "--target", "outcome").exit_code == 0
        leads.drop(columns=["industry", "company_size"]).to_csv(bad, index=False)
        result = invoke("predict", "--data", bad)
    else:
        result = invoke("predict", "--data", files["new"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error:")
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
