"""REST request and response bodies (Create / Public families), converted from and to protobuf here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from salesai.common.v1 import types_pb2
from salesai.ingestion.v1 import ingestion_pb2

Language = Literal["auto", "zh", "en"]
Direction = Literal["inbound", "outbound"]


class EntityPublic(BaseModel):
    type: str = Field(examples=["PHONE_NUMBER"])
    start: int = Field(description="Code-point offset into the original text (inclusive).")
    end: int = Field(description="Code-point offset into the original text (exclusive).")
    score: float
    placeholder: str = Field(examples=["<PHONE_1>"])

    @classmethod
    def from_pb(cls, pb: types_pb2.Entity) -> EntityPublic:
        return cls(type=pb.type, start=pb.start, end=pb.end, score=round(pb.score, 4), placeholder=pb.placeholder)


class InteractionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1, max_length=200, description="The CRM's id; re-sending it is a no-op.")
    text: str = Field(min_length=1, description="The message as written (by the customer, or the rep if outbound).")
    customer_id: str = Field("", max_length=200)
    conversation_id: str = Field("", max_length=200, description="Pseudonyms stay consistent within it.")
    lead_id: str = Field("", max_length=200)
    channel: str = Field("", max_length=40, examples=["wechat", "email", "meeting_note"])
    language: Language = "auto"
    occurred_at: datetime | None = None
    direction: Direction = Field(
        "inbound", description="inbound: written by the customer; outbound: written by the rep (a reply)."
    )

    def to_pb(self, tenant_id: str) -> ingestion_pb2.IngestRequest:
        request = ingestion_pb2.IngestRequest(
            tenant_id=tenant_id,
            external_id=self.external_id,
            customer_id=self.customer_id,
            conversation_id=self.conversation_id,
            lead_id=self.lead_id,
            channel=self.channel,
            text=self.text.encode(),
            language=self.language,
            direction=self.direction,
        )
        if self.occurred_at is not None:
            request.occurred_at.FromDatetime(self.occurred_at)
        return request


class InteractionPublic(BaseModel):
    id: str
    external_id: str
    customer_id: str
    conversation_id: str
    lead_id: str
    channel: str
    direction: Direction
    language: str
    redacted_text: str
    entities: list[EntityPublic]
    occurred_at: datetime
    created_at: datetime

    @classmethod
    def from_pb(cls, pb: types_pb2.Interaction) -> InteractionPublic:
        return cls(
            id=pb.id,
            external_id=pb.external_id,
            customer_id=pb.customer_id,
            conversation_id=pb.conversation_id,
            lead_id=pb.lead_id,
            channel=pb.channel,
            direction=pb.direction or "inbound",
            language=pb.language,
            redacted_text=pb.redacted_text,
            entities=[EntityPublic.from_pb(e) for e in pb.entities],
            occurred_at=pb.occurred_at.ToDatetime(UTC),
            created_at=pb.created_at.ToDatetime(UTC),
        )


class IngestPublic(BaseModel):
    interaction: InteractionPublic
    created: bool = Field(description="False when this external_id had been ingested before.")


class RedactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    language: Language = "auto"


class RedactPublic(BaseModel):
    redacted_text: str
    language: str
    entities: list[EntityPublic]


class RevealCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=2000, description="Why the raw text is needed (audited).")


class RevealPublic(BaseModel):
    text: str
    audit_id: str


class ExportPublic(BaseModel):
    customer_id: str
    interactions: list[InteractionPublic]


class ErasePublic(BaseModel):
    customer_id: str
    interactions_erased: int
    derived_erased: dict[str, int] = Field(
        default_factory=dict,
        description="What the leads service removed, by kind: vectors (similar-situation index), predictions, "
        "suggestions, suggestion_feedback, suggestion_deliveries, suggestions_amended (other leads' evidence that "
        "quoted the customer), leads_anonymised, customers; and what the training service cut out of its files: "
        "dataset_rows (datasets staged by training jobs), test_split_rows (model versions' test splits), "
        "report_errors (worst errors quoted by evaluation reports), training_files (files rewritten).",
    )
    pending: list[str] = Field(
        default_factory=list,
        description="Stores not reached now: 'similar_index' when the leads service was unreachable (its database "
        "rows were erased anyway; it forgets the vectors of erased messages when it next starts), "
        "'training_files' when the training service was (it cuts the rows of erased messages when it next starts).",
    )


class ClassifyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(min_length=1, max_length=64, description="Messages as customers wrote them (raw).")
    tasks: list[str] = Field(default_factory=list, description="Tasks to run; empty = the defaults (intent, risk).")
    explain: bool = Field(True, description="Return evidence spans (the words that drove each prediction).")
    language: Language = "auto"
    conversation_id: str = Field("", max_length=200)


class EvidencePublic(BaseModel):
    start: int = Field(description="Code-point offset into redacted_text (inclusive).")
    end: int = Field(description="Code-point offset into redacted_text (exclusive).")
    text: str
    weight: float = Field(description="Relative strength, 1.0 = the strongest word.")


class PredictionPublic(BaseModel):
    task: str
    label: str
    confidence: float = Field(description="Calibrated probability of label.")
    probabilities: dict[str, float]
    evidence: list[EvidencePublic]
    model_version: str

    @classmethod
    def from_pb(cls, pb: types_pb2.Prediction) -> PredictionPublic:
        return cls(
            task=pb.task,
            label=pb.label,
            confidence=round(pb.confidence, 6),
            probabilities={k: round(v, 6) for k, v in pb.probabilities.items()},
            evidence=[
                EvidencePublic(start=e.start, end=e.end, text=e.text, weight=round(e.weight, 4)) for e in pb.evidence
            ],
            model_version=pb.model_version,
        )


class ClassifiedText(BaseModel):
    redacted_text: str = Field(description="What the models saw; evidence offsets refer to it.")
    predictions: list[PredictionPublic]


class ClassifyPublic(BaseModel):
    results: list[ClassifiedText]


class ModelVersionPublic(BaseModel):
    task: str
    version: str
    tenant_id: str
    state: str
    labels: list[str]
    metrics: dict[str, float]
    base_model_hash: str
    data_hash: str
    error: str


class ModelListPublic(BaseModel):
    versions: list[ModelVersionPublic]


class AgreementPublic(BaseModel):
    compared: int
    agreed: int
    rate: float


class TrafficPublic(BaseModel):
    task: str
    tenant_id: str = Field(description="Empty for the global route.")
    stable_version: str
    canary_version: str
    canary_percent: float
    shadow_version: str
    previous_version: str = Field(description="What a rollback re-activates.")
    canary_agreement: AgreementPublic
    shadow_agreement: AgreementPublic


class TrafficUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    canary_version: str = Field("", max_length=64, description="Empty turns the canary off.")
    canary_percent: float = Field(0.0, ge=0, le=100, description="Share of conversations (sticky) on the canary.")
    shadow_version: str = Field("", max_length=64, description="Empty turns the shadow off.")


class PromoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(False, description="Promote even if the gate refuses; needs a reason; audited.")
    reason: str = Field("", max_length=1000)


class GatePublic(BaseModel):
    passed: bool
    forced: bool
    candidate_macro_f1: float
    serving_macro_f1: float
    margin: float
    test_examples: int
    detail: str


class PromotePublic(BaseModel):
    traffic: TrafficPublic
    gate: GatePublic


class LeadFactorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feature: str = Field(max_length=200)
    value: float | str | None = None
    contribution: float
    text_en: str = Field("", max_length=500)
    text_zh: str = Field("", max_length=500)


class AnalyzeCreate(InteractionCreate):
    """A new message plus what the CRM knows of the lead: its recent interactions and, if any, its score."""

    recent_interaction_ids: list[str] = Field(
        default_factory=list, max_length=20, description="Earlier interactions of this lead (already ingested)."
    )
    lead_score: float | None = Field(None, ge=0, le=1, description="From `salesai scoring predict`, if scored.")
    lead_factors: list[LeadFactorIn] = Field(default_factory=list, max_length=20)
    last_touch_at: datetime | None = Field(None, description="When a rep last contacted the lead.")


class AnalyzePublic(BaseModel):
    interaction: InteractionPublic
    created: bool
    predictions: list[PredictionPublic] = Field(description="intent and risk of the new message.")
    suggestions: list[dict[str, Any]] = Field(
        description="Next actions with confidence, evidence and an editable AI draft; never sent automatically."
    )
    score: dict[str, Any] | None = Field(None, description="The lead's fresh score and factors (GET .../score shape).")
    score_source: Literal["model", "request", "none"] = Field(
        "none",
        description="model: rescored now; request: no scoring model trained yet, the body's lead_score was used; "
        "none: neither (rules on the score did not apply).",
    )
