"""REST bodies of the workbench (``/v1/workbench``): Create / Update / Public families. Shapes only; the rules
that need the project (labels in the schema, spans inside the text) live in :mod:`annotation.store`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["single", "multi", "span"]
TASK_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
MAX_TEXT_CHARS = 20_000


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LabelSpec(_In):
    name: str = Field(min_length=1, max_length=100, description="Stored in annotations and exports; keep it stable.")
    description: str = Field("", max_length=2000)
    hotkey: str = Field("", max_length=1, description="One key; must be unique within the project.")


class SpanIn(_In):
    start: int = Field(ge=0, description="Code-point offset (inclusive).")
    end: int = Field(ge=1, description="Code-point offset (exclusive).")
    label: str = Field(min_length=1, max_length=100)


class DraftCreate(_In):
    description: str = Field(min_length=1, max_length=2000, examples=["预测客户是否会在30天内成交"])


class DraftPublic(BaseModel):
    name: str
    kind: Kind
    labels: list[LabelSpec]
    instructions: str
    task: str | None = Field(None, description="A default model task whose labels the draft reuses, if any.")


class ProjectCreate(_In):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    kind: Kind
    labels: list[LabelSpec] = Field(min_length=1, max_length=200)
    overlap: int = Field(1, ge=1, le=5, description="How many labellers answer each item.")
    task: str | None = Field(None, pattern=TASK_PATTERN, description="Model task used to pre-annotate items.")
    instructions: str = Field("", max_length=20_000)


class ProjectUpdate(_In):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    labels: list[LabelSpec] | None = Field(None, min_length=1, max_length=200)
    overlap: int | None = Field(None, ge=1, le=5)
    task: str | None = Field(None, pattern=r"^(|[a-z][a-z0-9_]{0,62})$", description='"" removes the task.')
    instructions: str | None = Field(None, max_length=20_000)


class ProjectStats(BaseModel):
    items: int
    done: int
    labelled_by_me: int
    conflicts: int


class ProjectPublic(BaseModel):
    id: str
    name: str
    description: str
    kind: Kind
    labels: list[LabelSpec]
    overlap: int
    task: str | None
    instructions: str
    created_at: datetime
    stats: ProjectStats


class ProjectList(BaseModel):
    projects: list[ProjectPublic]


class TextIn(_In):
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    external_id: str = Field("", max_length=200)
    meta: dict[str, Any] = Field(default_factory=dict)


class ItemsCreate(_In):
    """Exactly one of ``interaction_ids`` (already redacted) or ``texts`` (redacted now)."""

    interaction_ids: list[str] | None = Field(None, min_length=1, max_length=5000)
    texts: list[TextIn] | None = Field(None, min_length=1, max_length=5000)


class LoadPublic(BaseModel):
    added: int
    skipped_duplicates: int
    preannotated: int = Field(0, description="Items that got a model prediction.")
    preannotation: str = Field("none", description="ok | none (no task) | unavailable | no_model | failed")
    note: str = ""


class GoldCreate(_In):
    labels: list[str] = Field(default_factory=list, max_length=200)
    spans: list[SpanIn] = Field(default_factory=list, max_length=1000)
    clear: bool = False


class AnnotationCreate(_In):
    labels: list[str] = Field(default_factory=list, max_length=200)
    spans: list[SpanIn] = Field(default_factory=list, max_length=1000)
    skipped: bool = False
    seconds: float | None = Field(None, ge=0, le=86_400)


class AnnotationPublic(BaseModel):
    id: str
    item_id: str
    labeller: str
    labels: list[str]
    spans: list[dict[str, Any]]
    skipped: bool
    seconds: float | None
    created_at: datetime
    updated_at: datetime


class CommentCreate(_In):
    text: str = Field(min_length=1, max_length=5000)


class CommentPublic(BaseModel):
    id: str
    author: str
    text: str
    created_at: datetime


class ResolutionCreate(_In):
    labels: list[str] = Field(default_factory=list, max_length=200)
    spans: list[SpanIn] = Field(default_factory=list, max_length=1000)
    note: str = Field("", max_length=5000)


class ResolutionPublic(BaseModel):
    item_id: str
    labels: list[str]
    spans: list[dict[str, Any]]
    note: str
    resolved_by: str
    updated_at: datetime


class Prediction(BaseModel):
    label: str
    confidence: float


class ItemPublic(BaseModel):
    id: str
    text: str
    lang: str
    external_id: str
    source: str
    prediction: Prediction | None
    my_annotation: AnnotationPublic | None = None
    comments: list[CommentPublic] = Field(default_factory=list)
    position: int = Field(description="Load order within the project, from 1.")
    gold: dict[str, Any] | None = Field(None, description="Reviewers and admins only.")
    annotations: list[AnnotationPublic] | None = Field(None, description="Reviewers and admins only.")
    resolution: ResolutionPublic | None = None


class NextPublic(BaseModel):
    item: ItemPublic
    remaining: int = Field(description="Items left in the caller's queue, this one included.")


class HistoryPublic(BaseModel):
    items: list[ItemPublic]


class ConflictAnnotation(BaseModel):
    labeller: str
    labels: list[str]
    spans: list[dict[str, Any]]


class Conflict(BaseModel):
    item: ItemPublic
    annotations: list[ConflictAnnotation]


class ConflictList(BaseModel):
    items: list[Conflict]


class PairKappaPublic(BaseModel):
    a: str
    b: str
    kappa: float | None
    n: int


class LabellerStats(BaseModel):
    labeller: str
    labelled: int
    gold_items: int
    gold_accuracy: float | None


class AgreementPublic(BaseModel):
    items_compared: int
    cohen: list[PairKappaPublic]
    fleiss_kappa: float | None
    krippendorff_alpha: float | None
    per_label: dict[str, dict[str, float | None]]
    labellers: list[LabellerStats]


class SnapshotCreate(_In):
    seed: int = Field(13, ge=0, le=2**31 - 1)
    dev: float = Field(0.1, ge=0, le=0.5)
    test: float = Field(0.2, ge=0, le=0.5)
    min_annotations: int = Field(1, ge=1, le=5)


class SnapshotPublic(BaseModel):
    id: str
    project_id: str
    version: int
    sha256: str
    created_at: datetime
    counts: dict[str, int]
    label_counts: dict[str, int]


class SnapshotList(BaseModel):
    snapshots: list[SnapshotPublic]


class ImportPublic(BaseModel):
    added: int
    skipped_duplicates: int
    annotations: int
    spans_dropped: int = Field(0, description="Spans that fell on text the redaction replaced.")


class FeedbackPublic(BaseModel):
    added: int
    skipped_duplicates: int
    feedback_seen: int = Field(description="Rejected or edited suggestions pulled since the last pull.")
