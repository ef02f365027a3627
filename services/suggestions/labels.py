"""The label sets a playbook may name, and their Chinese display names for reasons and drafts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.tasks import default_tasks

#: Display names of the shipped intent and risk labels (a label missing here is shown as is).
LABELS_ZH: dict[str, str] = {
    "purchase_intent": "购买意向",
    "pricing_inquiry": "询价",
    "price_objection": "价格异议",
    "comparing_options": "比较方案",
    "budget_freeze": "预算冻结",
    "timeline_delay": "项目延期",
    "approval_pending": "等待审批",
    "demo_request": "申请演示",
    "info_request": "咨询信息",
    "meeting_request": "会议安排",
    "complaint": "投诉",
    "churn_risk": "流失风险",
    "unsubscribe": "退订",
    "positive_feedback": "正面反馈",
    "other": "其他",
    "low": "低",
    "medium": "中",
    "high": "高",
}


def label_zh(label: str) -> str:
    return LABELS_ZH.get(label, label)


def valid_labels(task: str, context: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """Labels of ``task``: from the validation context (``{"labels": {task: [...]}}``) or the shipped tasks."""
    given = (context or {}).get("labels", {}).get(task)
    if given is not None:
        return tuple(given)
    spec = default_tasks().get(task)
    return spec.labels if spec else ()
