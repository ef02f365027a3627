"""Tasks: a label schema that an adapter is trained for (``intent``, ``risk``, or one a user defines)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from services.common.errors import InvalidArgument

TASK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DEFAULT_TASKS_FILE = Path(__file__).with_name("tasks.yaml")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    labels: tuple[str, ...]
    multi_label: bool = False
    description: str = ""
    label_descriptions: dict[str, str] = field(default_factory=dict)
    #: a prediction below ``min_confidence`` becomes this label (when the task has one)
    out_of_scope_label: str | None = None
    min_confidence: float = 0.0

    def __post_init__(self) -> None:
        if not TASK_NAME.match(self.name):
            raise InvalidArgument(f"task name {self.name!r} must be lower-case letters, digits and _", field="task")
        if len(self.labels) < 2:
            raise InvalidArgument(f"task {self.name!r} needs at least 2 labels, got {len(self.labels)}", field="labels")
        if len(set(self.labels)) != len(self.labels):
            raise InvalidArgument(f"task {self.name!r} has duplicate labels", field="labels")
        if self.out_of_scope_label is not None and self.out_of_scope_label not in self.labels:
            raise InvalidArgument(f"out-of-scope label {self.out_of_scope_label!r} is not a label", field="labels")
        if not 0.0 <= self.min_confidence < 1.0:
            raise InvalidArgument("min_confidence must be in [0, 1)", field="min_confidence")

    def index(self, label: str) -> int:
        try:
            return self.labels.index(label)
        except ValueError:
            raise InvalidArgument(f"{label!r} is not a label of task {self.name!r}", field="label") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "labels": list(self.labels),
            "multi_label": self.multi_label,
            "description": self.description,
            "label_descriptions": dict(self.label_descriptions),
            "out_of_scope_label": self.out_of_scope_label,
            "min_confidence": self.min_confidence,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskSpec:
        return cls(
            name=data["name"],
            labels=tuple(data["labels"]),
            multi_label=bool(data.get("multi_label", False)),
            description=data.get("description", ""),
            label_descriptions=dict(data.get("label_descriptions") or {}),
            out_of_scope_label=data.get("out_of_scope_label"),
            min_confidence=float(data.get("min_confidence", 0.0)),
        )

    @classmethod
    def for_labels(cls, name: str, labels: list[str], multi_label: bool = False) -> TaskSpec:
        """A new task whose labels are taken from training data (sorted; ``other`` kept as out-of-scope)."""
        ordered = tuple(sorted(set(labels)))
        return cls(
            name=name,
            labels=ordered,
            multi_label=multi_label,
            out_of_scope_label="other" if "other" in ordered else None,
        )


@cache
def default_tasks() -> dict[str, TaskSpec]:
    raw = yaml.safe_load(DEFAULT_TASKS_FILE.read_text(encoding="utf-8"))
    tasks = {}
    for name, body in raw.items():
        labels = body["labels"]
        tasks[name] = TaskSpec(
            name=name,
            labels=tuple(labels),
            description=body.get("description", ""),
            label_descriptions=dict(labels),
            out_of_scope_label=body.get("out_of_scope_label"),
            min_confidence=float(body.get("min_confidence", 0.0)),
        )
    return tasks
