"""Lead signals from classified interactions: exact values, no look-ahead, CRM join, CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from services.cli import app
from services.common.errors import InvalidArgument
from services.common.storage.models import Lead
from services.ingestion.config import IngestionSettings
from services.ingestion.core import IngestCommand
from services.ingestion.redaction import RedactionConfig, Redactor
from services.ingestion.server import create_core
from services.leads.scorer import feature_row
from services.leads.store import LeadStore, LeadUpsert, StoredPrediction
from services.scoring.signals import NEVER_DAYS, build_table, read_touches

AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _record(lead: str, at: str, direction: str = "inbound", intent: str | None = None, risk: str | None = None):
    predictions = {}
    if intent:
        predictions["intent"] = {"label": intent, "confidence": 0.9}
    if risk:
        predictions["risk"] = {"label": risk, "confidence": 0.8}
    return {"lead_id": lead, "occurred_at": at, "direction": direction, "predictions": predictions}


@pytest.fixture
def history(tmp_path: Path) -> Path:
    rows = [
        _record("L1", "2026-11-01T10:00:00+00:00", intent="pricing_inquiry", risk="low"),
        _record("L1", "2026-11-01T14:00:00+00:00", "outbound"),
        _record("L1", "2026-11-10T10:00:00+00:00", intent="price_objection", risk="medium"),
        _record("L1", "2026-11-11T10:00:00+00:00", "outbound"),
        _record("L1", "2026-11-18T12:00:00+00:00", intent="budget_freeze", risk="high"),
        _record("L1", "2026-11-25T12:00:00+00:00", intent="churn_risk", risk="high"),  # after as_of: ignored
        _record("L2", "2026-09-01T00:00:00Z", intent="demo_request", risk="low"),
    ]
    path = tmp_path / "interactions.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


def test_signals_are_exact_and_never_look_ahead(history: Path) -> None:
    table = build_table(read_touches(history), as_of=AS_OF).set_index("lead_id")
    l1, l2 = table.loc["L1"], table.loc["L2"]
    assert (l1["messages_30d"], l1["inbound_30d"], l1["outbound_30d"]) == (5, 3, 2)
    assert l1["days_since_last_inbound"] == pytest.approx(2.0)
    assert l1["days_since_last_touch"] == pytest.approx(9.083, abs=1e-3)
    assert (l1["pricing_inquiry_30d"], l1["price_objection_30d"], l1["budget_freeze_30d"]) == (1, 1, 1)
    assert l1["churn_risk_30d"] == 0 and l1["days_since_churn_risk"] == NEVER_DAYS  # the future is invisible
    assert l1["reply_latency_hours_median"] == pytest.approx(14.0)  # replies after 4 h and 24 h
    assert l1["high_risk_share_30d"] == pytest.approx(1 / 3, abs=1e-3)
    assert l2["messages_30d"] == 0 and l2["days_since_demo_request"] == pytest.approx(80.5)
    assert l2["reply_latency_hours_median"] == -1 and l2["days_since_last_touch"] == NEVER_DAYS


def test_crm_fields_join_with_per_lead_as_of_and_stage_age(history: Path) -> None:
    leads = pd.DataFrame(
        {
            "lead_id": ["L1", "L3"],
            "industry": ["retail", "saas"],
            "decided_at": ["2026-11-10T12:00:00+00:00", None],
            "stage_entered_at": ["2026-11-01T12:00:00+00:00", "2026-11-19T12:00:00+00:00"],
        }
    )
    table = build_table(read_touches(history), leads, as_of=AS_OF, as_of_column="decided_at")
    l1, l3 = table.iloc[0], table.iloc[1]
    assert l1["industry"] == "retail" and l1["budget_freeze_30d"] == 0  # as of its decision date
    assert l1["price_objection_30d"] == 1 and l1["stage_age_days"] == pytest.approx(9.0)
    assert l3["messages_30d"] == 0 and l3["stage_age_days"] == pytest.approx(1.0)


def test_bad_lines_are_reported_by_number(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        b'{"lead_id": "L1", "occurred_at": "2026-11-01T10:00:00Z"}\n{"lead_id": "L1"}\n\xff\n'
        b'{"lead_id": "L1", "occurred_at": "yesterday"}\n{"occurred_at": "2026-11-01T10:00:00Z"}\n'
    )
    with pytest.raises(InvalidArgument) as error:
        read_touches(path)
    message = error.value.message
    assert "4 bad line(s)" in message and "line 2" in message and "line 3" in message and "line 5" in message


def test_cli_writes_a_table_that_scoring_can_train_on(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "leads.csv"
    result = CliRunner().invoke(
        app, ["scoring", "signals", "--interactions", str(history), "--out", str(out)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert list(table["lead_id"]) == ["L1", "L2"] and "risk_trend" in table.columns


def test_live_scoring_rows_use_the_same_feature_code_as_files(history: Path) -> None:
    """``services.leads`` builds a lead's row from database rows with ``lead_features``: it must equal the file
    path's row for the same history (one feature code path, no drift between training and serving)."""
    from services.scoring.signals import lead_features

    touches = read_touches(history)
    entered = datetime(2026, 11, 5, tzinfo=UTC)
    leads = pd.DataFrame({"lead_id": ["L1"], "stage_entered_at": [entered.isoformat()]})
    from_file = build_table(touches, leads, as_of=AS_OF).iloc[0].drop(["lead_id", "stage_entered_at"]).to_dict()
    live = lead_features([t for t in touches if t.lead_id == "L1"], AS_OF, stage_entered_at=entered)
    assert live == from_file
    assert live["stage_age_days"] == 15.5


def test_database_rows_give_the_same_feature_row_as_the_file(
    history: Path, migrated_url: str, secrets_env: dict[str, str]
) -> None:
    """L1's lines ingested through the real ingestion core with their direction (3 inbound, 2 outbound replies,
    1 inbound after as_of) and their predictions recorded through the leads store: the live row built from the
    database rows equals the file's row, reply latency and touch counts included (SQLite, then PostgreSQL)."""
    core = create_core(IngestionSettings(database_url=migrated_url), Redactor(RedactionConfig(use_spacy=False)))
    store = LeadStore(core.db)
    records = [json.loads(line) for line in history.read_text().splitlines()]
    stored = []
    for n, record in enumerate(r for r in records if r["lead_id"] == "L1"):
        command = IngestCommand(
            tenant_id="acme",
            external_id=f"L1-{n}",
            text=f"message {n}",
            lead_id="L1",
            direction=record["direction"],
            occurred_at=datetime.fromisoformat(record["occurred_at"]),
        )
        predictions = [StoredPrediction(task, p["label"], p["confidence"]) for task, p in record["predictions"].items()]
        stored.append((core.ingest(command).interaction.id, predictions))
    store.record_predictions("acme", stored)
    entered = datetime(2026, 11, 5, tzinfo=UTC)
    store.upsert(LeadUpsert(tenant_id="acme", lead_id="L1", stage="proposal"))
    with core.db.session() as s:
        s.execute(update(Lead).where(Lead.external_id == "L1").values(stage_entered_at=entered))
    history_rows = store.history("acme", "L1")
    core.db.dispose()
    assert (len(history_rows.interactions), len(history_rows.outbound)) == (4, 2)

    live = feature_row(history_rows, AS_OF, 30.0)
    leads = pd.DataFrame({"lead_id": ["L1"], "stage_entered_at": [entered.isoformat()]})
    from_file = build_table(read_touches(history), leads, as_of=AS_OF).iloc[0].drop(["lead_id", "stage_entered_at"])
    assert live.pop("stage") == "proposal"
    assert live == from_file.to_dict()
    assert live["reply_latency_hours_median"] == pytest.approx(14.0)  # replies after 4 h and 24 h, from the rows
    assert (live["inbound_30d"], live["outbound_30d"]) == (3, 2)
    assert live["days_since_last_touch"] == pytest.approx(9.083, abs=1e-3)
