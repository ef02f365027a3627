"""Per-row factors: the strongest contributions to a score, rendered as short English and Chinese sentences.

Sentences are built from the column name and the row's value only ("price_inquiries_30d = 4 raised the
score" / "近30天询价次数 = 4 提高了评分"). Chinese labels come from a glossary of common CRM words; a column
with a word the glossary lacks keeps its own name, so a sentence is never half-translated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from services.scoring.table import Feature

#: |contribution| in log-odds from which a factor is called strong.
STRONG = 1.0

#: Multi-word phrases first (matched greedily, longest first), then single words.
ZH_GLOSSARY: dict[str, str] = {
    "price_inquiries": "询价次数",
    "days_since_last_touch": "距上次跟进天数",
    "days_since_last_contact": "距上次联系天数",
    "last_touch": "上次跟进",
    "company_size": "公司规模",
    "demo_requested": "已申请演示",
    "budget_freeze": "预算冻结",
    "reply_latency": "回复延迟",
    "stage_age": "阶段停留时长",
    "lead_source": "线索来源",
    "deal_size": "交易规模",
    "job_title": "职位",
    "industry": "行业",
    "region": "地区",
    "country": "国家",
    "city": "城市",
    "source": "来源",
    "channel": "渠道",
    "budget": "预算",
    "discount": "折扣",
    "price": "价格",
    "pricing": "价格",
    "quote": "报价",
    "quotes": "报价次数",
    "inquiries": "咨询次数",
    "mentions": "提及次数",
    "emails": "邮件数",
    "email": "邮件",
    "calls": "通话次数",
    "meetings": "会议次数",
    "visits": "访问次数",
    "touches": "跟进次数",
    "replies": "回复次数",
    "messages": "消息数",
    "tickets": "工单数",
    "employees": "员工数",
    "revenue": "营收",
    "amount": "金额",
    "size": "规模",
    "company": "公司",
    "stage": "阶段",
    "age": "时长",
    "days": "天数",
    "hours": "小时数",
    "demo": "演示",
    "trial": "试用",
    "competitor": "竞品",
    "intent": "意向",
    "risk": "风险",
    "sentiment": "情绪",
    "score": "评分",
    "rate": "率",
    "count": "次数",
    "total": "总",
    "avg": "平均",
    "mean": "平均",
    "max": "最大",
    "min": "最小",
    "web": "网站",
    "product": "产品",
    "plan": "套餐",
    "contract": "合同",
    "renewal": "续约",
    "seniority": "职级",
    "title": "职位",
    "role": "角色",
    "opened": "打开",
    "clicked": "点击",
    "requested": "已申请",
    "freeze": "冻结",
    "response": "响应",
    "latency": "延迟",
    "is": "是否",
    "has": "是否有",
}
_WINDOW = re.compile(r"^(\d+)([dhwm])$")
_WINDOW_ZH = {"d": "天", "h": "小时", "w": "周", "m": "个月"}


@dataclass(frozen=True)
class Factor:
    feature: str
    value: Any
    contribution: float
    text_en: str
    text_zh: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def top_factors(
    row: pd.Series | Mapping[str, Any], contributions: np.ndarray, features: list[Feature], per_side: int = 3
) -> list[Factor]:
    """The ``per_side`` largest positive then the ``per_side`` largest negative contributions of one row."""
    order = np.argsort(-contributions, kind="mergesort")
    positive = [i for i in order if contributions[i] > 0][:per_side]
    negative = [i for i in order[::-1] if contributions[i] < 0][:per_side]
    return [_factor(features[i], row[features[i].name], float(contributions[i])) for i in positive + negative]


@lru_cache(maxsize=4096)
def zh_label(column: str) -> str:
    """A Chinese label for a column name, or the name itself when a word is not in the glossary."""
    words = [w.lower() for w in re.split(r"[_\-\s]+|(?<=[a-z])(?=[A-Z])", column) if w]
    prefix, parts, i = "", [], 0
    while i < len(words):
        window = _WINDOW.match(words[i])
        if window:
            prefix = f"近{window.group(1)}{_WINDOW_ZH[window.group(2)]}"
            i += 1
            continue
        for j in range(len(words), i, -1):
            phrase = "_".join(words[i:j])
            if phrase in ZH_GLOSSARY:
                parts.append(ZH_GLOSSARY[phrase])
                i = j
                break
        else:
            return column
    return prefix + "".join(parts) if parts else column


def render_value(value: Any, kind: str) -> tuple[Any, str, str]:
    """``(JSON value, English text, Chinese text)`` of one cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None, "missing", "缺失"
    if kind == "boolean":
        truth = str(value).strip().lower() in ("true", "yes", "1", "1.0")
        return truth, "yes" if truth else "no", "是" if truth else "否"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if value.is_integer():
            value = int(value)
        else:
            text = f"{value:.4g}"
            return value, text, text
    return value, str(value), str(value)


def _factor(feature: Feature, raw_value: Any, contribution: float) -> Factor:
    value, en_value, zh_value = render_value(raw_value, feature.kind)
    strong = abs(contribution) >= STRONG
    if contribution > 0:
        verb_en, verb_zh = ("strongly raised", "显著提高了") if strong else ("raised", "提高了")
    else:
        verb_en, verb_zh = ("strongly lowered", "显著降低了") if strong else ("lowered", "降低了")
    return Factor(
        feature=feature.name,
        value=value,
        contribution=contribution,
        text_en=f"{feature.name} = {en_value} {verb_en} the score",
        text_zh=f"{zh_label(feature.name)} = {zh_value} {verb_zh}评分",
    )
