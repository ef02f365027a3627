"""The playbook: situation → actions rules in YAML, validated on load with errors that say what to fix.

.. code-block:: yaml

    actions:
      offer_discount:
        title: {en: "Offer a {discount_percent}% discount", zh: "提供{discount_percent}%折扣"}
        audience: customer            # customer: a message draft; internal: a task or note for the team
        weight: 0.9                   # how much this action is worth when its rule fires (0..1]
        draft: {en: "...", zh: "..."}
    rules:
      - id: repeated_price_objection
        strength: 0.8                 # how often the action is right when the conditions hold (0..1]
        when: {intent_count: {labels: [price_objection], last: 3, at_least: 3}}
        actions: [offer_discount]
        params: {discount_percent: 5}

Titles and drafts are ``str.format`` templates over the rule's ``params`` and :data:`TEMPLATE_FIELDS`.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.common.errors import InvalidArgument
from services.suggestions.conditions import When

DEFAULT_PLAYBOOK = Path(__file__).with_name("playbook.yaml")
LANGUAGES = ("en", "zh")
#: Fields every template may use besides the rule's params.
TEMPLATE_FIELDS = frozenset({"lead_id", "count", "hours", "score"})


class PlaybookError(InvalidArgument):
    reason = "invalid_playbook"


class Text(BaseModel):
    """A template in each supported language."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)

    def get(self, language: str) -> str:
        return self.zh if language == "zh" else self.en

    def fields(self) -> set[str]:
        return {name for lang in LANGUAGES for _, name, _, _ in string.Formatter().parse(self.get(lang)) if name}


class Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    title: Text
    draft: Text
    audience: Literal["customer", "internal"] = "internal"
    weight: float = Field(default=1.0, gt=0.0, le=1.0)


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    description: str = ""
    strength: float = Field(default=1.0, gt=0.0, le=1.0)
    when: When
    actions: tuple[str, ...] = Field(min_length=1)
    params: dict[str, str | int | float] = Field(default_factory=dict)


class Playbook(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    actions: dict[str, Action] = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(min_length=1)

    @field_validator("actions")
    @classmethod
    def _action_names(cls, actions: dict[str, Action]) -> dict[str, Action]:
        bad = [name for name in actions if not name.replace("_", "").isalnum() or not name.islower()]
        if bad:
            raise ValueError(f"action names are lower_snake_case machine names, got {bad[0]!r}")
        return actions

    @model_validator(mode="after")
    def _consistent(self) -> Playbook:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
            for name in rule.actions:
                self._check_action(rule, name)
        return self

    def _check_action(self, rule: Rule, name: str) -> None:
        action = self.actions.get(name)
        if action is None:
            raise ValueError(f"rule {rule.id!r} names unknown action {name!r} (defined: {', '.join(self.actions)})")
        missing = (action.title.fields() | action.draft.fields()) - TEMPLATE_FIELDS - set(rule.params)
        if missing:
            raise ValueError(
                f"action {name!r} of rule {rule.id!r} uses template field(s) {sorted(missing)} that the rule's "
                f"params do not define"
            )

    @property
    def time_based_rules(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.when.time_based)


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "playbook"


def _explain(err: ValidationError, source: str) -> str:
    lines = []
    for item in err.errors(include_url=False):
        lines.append(f"  {_where(item['loc'])}: {item['msg'].removeprefix('Value error, ')}")
    return f"invalid playbook {source}:\n" + "\n".join(lines)


def parse_playbook(data: Any, *, source: str = "<data>", labels: Mapping[str, list[str]] | None = None) -> Playbook:
    """Validate parsed YAML/JSON. ``labels`` ({task: [label, ...]}) overrides the shipped label sets."""
    if not isinstance(data, dict):
        raise PlaybookError(f"invalid playbook {source}: the top level must be a mapping with 'actions' and 'rules'")
    try:
        return Playbook.model_validate(data, context={"labels": dict(labels or {})})
    except ValidationError as err:
        raise PlaybookError(_explain(err, source)) from None


def load_playbook(path: str | Path = DEFAULT_PLAYBOOK, *, labels: Mapping[str, list[str]] | None = None) -> Playbook:
    """Read and validate a playbook file; :class:`PlaybookError` (422) says where and what is wrong."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise PlaybookError(f"cannot read playbook {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise PlaybookError(f"playbook {path} is not valid YAML{where}: {problem}") from None
    return parse_playbook(data, source=str(path), labels=labels)
