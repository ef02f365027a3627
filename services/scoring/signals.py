"""Signals: one row of features per lead, from its classified interaction history and its CRM fields.

Input interactions are JSON lines — what ``salesai classify`` writes, plus ``lead_id``, ``occurred_at`` and
``direction`` (``inbound`` from the customer, ``outbound`` from the rep; default inbound)::

    {"lead_id": "L1", "occurred_at": "2026-11-20T09:30:00+08:00", "direction": "inbound",
     "predictions": {"intent": {"label": "pricing_inquiry", ...}, "risk": {"label": "medium", ...}}}

A single-task record (``"task": "intent", "label": ...``) is accepted too. Live scoring (``services.leads``)
builds the same :class:`Touch` records from database rows and calls :func:`lead_features`, so files and the
database share one feature code path. Features are computed *as of* a time
(default: now), over a window (default 30 days), so a training table can be built as of each lead's decision date
and a scoring table as of today with the same code — no leakage from the future.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from models.tasks import default_tasks
from services.common.errors import InvalidArgument

RISK_LEVEL = {"low": 0.0, "medium": 1.0, "high": 2.0}
NEVER_DAYS = 999.0  # "days since" for something that never happened: large, finite (trees split on it)


@dataclass(frozen=True)
class Touch:
    lead_id: str
    at: datetime
    inbound: bool
    intent: str | None
    risk: str | None


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidArgument(f"{where}: occurred_at must be an ISO 8601 string", field="occurred_at")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"{where}: occurred_at {value[:40]!r} is not ISO 8601", field="occurred_at") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _labels(record: dict[str, Any]) -> tuple[str | None, str | None]:
    predictions = record.get("predictions")
    if isinstance(predictions, dict):
        intent = (predictions.get("intent") or {}).get("label")
        risk = (predictions.get("risk") or {}).get("label")
        return intent, risk
    task = record.get("task")
    return (record.get("label"), None) if task == "intent" else (None, record.get("label") if task == "risk" else None)


def read_touches(path: Path) -> list[Touch]:
    """Parse the interactions file; every bad line is reported by number (never by content)."""
    if not Path(path).is_file():
        raise InvalidArgument(f"interactions file {str(path)!r} does not exist", field="interactions")
    touches, problems = [], []
    with Path(path).open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"line {number}"
            try:
                record = json.loads(raw.decode("utf-8"))
                if not isinstance(record, dict) or not isinstance(record.get("lead_id"), str | int):
                    raise InvalidArgument(f"{where}: needs a lead_id")
                direction = record.get("direction", "inbound")
                if direction not in ("inbound", "outbound"):
                    raise InvalidArgument(f"{where}: direction must be inbound or outbound")
                intent, risk = _labels(record)
                touches.append(
                    Touch(
                        str(record["lead_id"]),
                        _time(record.get("occurred_at"), where),
                        direction == "inbound",
                        intent,
                        risk,
                    )
                )
            except (UnicodeDecodeError, json.JSONDecodeError):
                problems.append(f"{where}: not valid UTF-8 JSON")
            except InvalidArgument as error:
                problems.append(error.message)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise InvalidArgument(f"{Path(path).name}: {len(problems)} bad line(s): {shown}", field="interactions")
    return touches


def _days(delta: timedelta) -> float:
    return round(delta.total_seconds() / 86400, 3)


def lead_signals(touches: list[Touch], as_of: datetime, window_days: float = 30.0) -> dict[str, float]:
    """The features of one lead's history as of ``as_of`` (touches after it are ignored)."""
    past = sorted((t for t in touches if t.at <= as_of), key=lambda t: t.at)
    recent = [t for t in past if t.at > as_of - timedelta(days=window_days)]
    inbound = [t for t in past if t.inbound]
    outbound = [t for t in past if not t.inbound]
    window = f"{int(window_days)}d"
    out: dict[str, float] = {
        f"messages_{window}": float(len(recent)),
        f"inbound_{window}": float(sum(t.inbound for t in recent)),
        f"outbound_{window}": float(sum(not t.inbound for t in recent)),
        f"touches_per_week_{window}": round(len(recent) / (window_days / 7), 3),
        "days_since_last_inbound": _days(as_of - inbound[-1].at) if inbound else NEVER_DAYS,
        "days_since_last_touch": _days(as_of - outbound[-1].at) if outbound else NEVER_DAYS,
    }
    for label in default_tasks()["intent"].labels:
        hits = [t for t in inbound if t.intent == label]
        out[f"{label}_{window}"] = float(sum(t.intent == label for t in recent if t.inbound))
        out[f"days_since_{label}"] = _days(as_of - hits[-1].at) if hits else NEVER_DAYS
    risks = [RISK_LEVEL[t.risk] for t in inbound if t.risk in RISK_LEVEL]
    recent_risks = [RISK_LEVEL[t.risk] for t in recent if t.inbound and t.risk in RISK_LEVEL]
    out[f"high_risk_share_{window}"] = (
        round(sum(r == 2.0 for r in recent_risks) / len(recent_risks), 3) if recent_risks else 0.0
    )
    last3, before3 = risks[-3:], risks[-6:-3]
    out["risk_trend"] = round(statistics.fmean(last3) - statistics.fmean(before3), 3) if last3 and before3 else 0.0
    latencies = []  # hours from a customer's message to the rep's next reply
    for index, touch in enumerate(past):
        if touch.inbound:
            reply = next((t for t in past[index + 1 :] if not t.inbound), None)
            if reply is not None:
                latencies.append((reply.at - touch.at).total_seconds() / 3600)
    out["reply_latency_hours_median"] = round(statistics.median(latencies), 3) if latencies else -1.0
    return out


def lead_features(
    touches: list[Touch], as_of: datetime, window_days: float = 30.0, *, stage_entered_at: datetime | None = None
) -> dict[str, float]:
    """:func:`lead_signals` plus ``stage_age_days`` when the stage's start is known: the one feature function
    behind both the file tables (:func:`build_table`) and live scoring from the database (``services.leads``)."""
    signals = lead_signals(touches, as_of, window_days)
    if stage_entered_at is not None:
        entered = stage_entered_at if stage_entered_at.tzinfo else stage_entered_at.replace(tzinfo=UTC)
        signals["stage_age_days"] = _days(as_of - entered)
    return signals


def build_table(
    touches: list[Touch],
    leads: pd.DataFrame | None = None,
    *,
    as_of: datetime | None = None,
    as_of_column: str | None = None,
    id_column: str = "lead_id",
    window_days: float = 30.0,
) -> pd.DataFrame:
    """One row per lead: its CRM fields (if given) joined with its signals.

    ``as_of_column`` (a column of ``leads``, e.g. the decision date) computes each lead's signals as of its own
    time — for training tables; otherwise every lead is seen as of ``as_of`` (default now). A ``stage_entered_at``
    column adds ``stage_age_days``.
    """
    by_lead: dict[str, list[Touch]] = defaultdict(list)
    for touch in touches:
        by_lead[touch.lead_id].append(touch)
    now = as_of or datetime.now(UTC)
    if leads is None:
        leads = pd.DataFrame({id_column: sorted(by_lead)})
    if id_column not in leads.columns:
        raise InvalidArgument(f"the leads table has no column {id_column!r}", field="id_column")
    rows = []
    for _, lead in leads.iterrows():
        lead_id = str(lead[id_column])
        moment = now
        if as_of_column:
            moment = _time(str(lead[as_of_column]), f"lead {lead_id}") if pd.notna(lead[as_of_column]) else now
        stage_entered_at = None
        if "stage_entered_at" in leads.columns and pd.notna(lead["stage_entered_at"]):
            stage_entered_at = _time(str(lead["stage_entered_at"]), f"lead {lead_id}")
        rows.append(lead_features(by_lead.get(lead_id, []), moment, window_days, stage_entered_at=stage_entered_at))
    features = pd.DataFrame(rows, index=leads.index)
    return pd.concat([leads, features], axis=1)
