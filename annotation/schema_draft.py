"""A natural-language project description → a draft label schema the admin edits (deterministic rules, zh + en).

Rules, tried in order; the first that matches wins:

- *span*: "highlight / mark / extract / tag A, B and C" · "标出 / 标注 / 抽取 … A、B和C"
- *known task*: "which intent" / "intent" · "意图" → the ``intent`` task's labels; "risk" · "风险" → ``risk``
- *enumeration*: "classify … into A, B or C" / "as A, B or C" · "分为 / 分成 / 分类为 A、B、C"
- *binary*: "predict whether X" / "whether X" · "是否X" → ``X`` / ``not_X`` (zh: ``X`` / ``不X``)

"one or more" / "all that apply" / "多选" make an enumeration multi-label. Nothing matched → a clear error
that shows the phrasings understood. Hotkeys: ``y``/``n`` for binary drafts, else 1-9, 0, then letters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from models.tasks import default_tasks
from services.common.errors import InvalidArgument

MAX_LABELS = 40
#: digits first, then letters not used by the workbench's own keys (j/k next/previous, s skip, c comment)
HOTKEYS = tuple("1234567890") + tuple(c for c in "qwertyuiopadfghlzxvbm" if c not in "jksc")

_SPLIT_EN = re.compile(r"\s*(?:,\s*(?:and|or)\s+|,|\s+and\s+|\s+or\s+|/|;)\s*", re.IGNORECASE)
_SPLIT_ZH = re.compile(r"\s*(?:、|，|,|以及|和|或者|或|及|与|/|；)\s*")
_MULTI = re.compile(r"one or more|all that apply|multiple labels|multi-label|多选|一个或多个|可以多个", re.IGNORECASE)
_SPAN_EN = re.compile(r"\b(?:highlight|mark|extract|tag)\b(?:\s+(?:the\s+)?(?:spans?|mentions?)\s+of)?\s+(.+)", re.I)
_SPAN_ZH = re.compile(r"(?:标出|标注出?|抽取|圈出)(?:文本中的|其中的|中的|所有的?)?(.+)")
_ENUM_EN = re.compile(r"\b(?:classify|categori[sz]e|sort|label|group|split)\b.*?\b(?:into|as)\b\s*:?\s*(.+)", re.I)
_ENUM_ZH = re.compile(r"(?:分为|分成|分类为|归为|标为|分类成)(.+)")
_WHETHER_EN = re.compile(r"\bwhether\s+(?:or not\s+)?(.+)", re.I)
_WHETHER_ZH = re.compile(r"是否(.+)")
_SUBJECT_EN = re.compile(
    r"^(?:the\s+)?(?:customer|client|buyer|prospect|lead|they|he|she|it|we|the deal|deal)\s+(?:will\s+|would\s+)?",
    re.I,
)
_LEAD_IN = re.compile(
    r"^(?:(?:one or more|any|one|each|all) of(?: the)?(?: labels| following)?\s*:?|[^:：]{0,30}[:：])\s*", re.I
)
_STOP_EN = re.compile(r"^(?:the|a|an)\s+", re.I)
_TASK_WORDS = {"intent": re.compile(r"\bintents?\b|意图"), "risk": re.compile(r"\brisk\b|风险")}


@dataclass(frozen=True)
class DraftLabel:
    name: str
    description: str = ""
    hotkey: str = ""


@dataclass(frozen=True)
class Draft:
    name: str
    kind: str
    labels: list[DraftLabel] = field(default_factory=list)
    instructions: str = ""
    task: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "labels": [{"name": x.name, "description": x.description, "hotkey": x.hotkey} for x in self.labels],
            "instructions": self.instructions,
            "task": self.task,
        }


def is_chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def slug(phrase: str) -> str:
    """An ASCII label name from an English phrase (Chinese phrases are kept as they are)."""
    phrase = phrase.strip().strip(".?!。？！\"'“”")
    if is_chinese(phrase):
        return re.sub(r"\s+", "", phrase)
    return re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_")


def draft_schema(description: str) -> Draft:
    """The draft for ``description``; raises InvalidArgument naming the phrasings understood when none match."""
    text = " ".join(description.split())
    if not text:
        raise InvalidArgument("description is empty: describe what labellers should decide", field="description")
    zh = is_chinese(text)
    for rule in (_span, _known_task, _enumeration, _binary):
        draft = rule(text, zh)
        if draft is not None:
            return draft
    raise InvalidArgument(
        "could not derive labels from the description; phrase it like 'classify messages into A, B or C', "
        "'predict whether X', 'highlight A and B', or '分为A、B、C' / '是否X'",
        field="description",
    )


def _clause(text: str) -> str:
    """The first sentence of a match (stops at sentence punctuation)."""
    return re.split(r"[.?!。？！;；\n]", text, maxsplit=1)[0].strip()


def _items(raw: str, zh: bool) -> list[str]:
    raw = _LEAD_IN.sub("", _MULTI.sub("", _clause(raw)))
    parts = (_SPLIT_ZH if zh else _SPLIT_EN).split(raw)
    names = []
    for part in parts:
        part = _STOP_EN.sub("", part.strip()) if not zh else part.strip()
        part = (
            re.sub(r"(?:三类|两类|几类|类别|类|等)$", "", part) if zh else re.sub(r"\s+(?:labels?|classes)$", "", part)
        )
        name = slug(part)
        if name and name not in names and name not in ("可", "可以", "can_be"):
            names.append(name)
    return names


def _labels(names: list[str], descriptions: dict[str, str] | None = None) -> list[DraftLabel]:
    if len(names) > MAX_LABELS:
        raise InvalidArgument(f"the description names {len(names)} labels; at most {MAX_LABELS}", field="description")
    descriptions = descriptions or {}
    return [DraftLabel(n, descriptions.get(n, ""), HOTKEYS[i] if i < len(HOTKEYS) else "") for i, n in enumerate(names)]


def _title(phrase: str, zh: bool) -> str:
    phrase = _clause(phrase)
    return phrase[:60] if zh else (phrase[:1].upper() + phrase[1:60]).strip()


def _span(text: str, zh: bool) -> Draft | None:
    match = (_SPAN_ZH if zh else _SPAN_EN).search(text)
    if match is None:
        return None
    names = _items(match.group(1), zh)
    if len(names) < 1:
        return None
    hint = "选中文本片段并按标签快捷键" if zh else "Select each mention in the text and press the label's hotkey."
    return Draft(_title(text, zh), "span", _labels(names), f"{text}\n{hint}")


def _known_task(text: str, zh: bool) -> Draft | None:
    if (_ENUM_ZH if zh else _ENUM_EN).search(text) and not re.search(r"\bwhich\b|哪", text, re.I):
        return None  # an explicit enumeration wins over a task word used in passing
    for task, pattern in _TASK_WORDS.items():
        if pattern.search(text):
            spec = default_tasks()[task]
            kind = "multi" if _MULTI.search(text) else "single"
            labels = _labels(list(spec.labels), spec.label_descriptions)
            return Draft(_title(text, zh), kind, labels, f"{text}\n{spec.description}", task=task)
    return None


def _enumeration(text: str, zh: bool) -> Draft | None:
    match = (_ENUM_ZH if zh else _ENUM_EN).search(text)
    if match is None:
        return None
    names = _items(match.group(1), zh)
    if len(names) < 2:
        return None
    kind = "multi" if _MULTI.search(text) else "single"
    hint = "可选择多个标签" if zh and kind == "multi" else "选择一个标签" if zh else ""
    hint = hint or ("Choose every label that applies." if kind == "multi" else "Choose exactly one label.")
    return Draft(_title(text, zh), kind, _labels(names), f"{text}\n{hint}")


def _binary(text: str, zh: bool) -> Draft | None:
    match = (_WHETHER_ZH if zh else _WHETHER_EN).search(text)
    if match is None:
        return None
    outcome = _clause(match.group(1))
    if zh:
        outcome = re.sub(r"^(?:客户|对方|买家|他们|他|她)", "", outcome)
        yes, no = slug(outcome), _negate_zh(slug(outcome))
    else:
        outcome = _SUBJECT_EN.sub("", outcome)
        yes = slug(outcome)
        no = f"not_{yes}"
    if not yes:
        return None
    labels = [
        DraftLabel(yes, f"是：{outcome}" if zh else f"Yes: {outcome}", "y"),
        DraftLabel(no, f"否：{outcome}" if zh else f"No: {outcome}", "n"),
    ]
    return Draft(_title(outcome, zh), "single", labels, text)


def _negate_zh(phrase: str) -> str:
    """会成交 → 不会成交, 有预算 → 没有预算, else 不 + phrase."""
    if phrase.startswith("有"):
        return "没" + phrase
    return "不" + phrase
