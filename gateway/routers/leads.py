"""Leads: upsert and outcomes (CRM backends), live score and suggestions (CRM, reps), rep feedback, and the
chat-tool button callback. Everything goes through the leads gRPC service; ids are the CRM's, tenant-scoped.

``POST /v1/callbacks/{channel}`` takes no API key on purpose: Slack, Feishu and WeCom cannot send our bearer
token, they sign each request with the channel's shared secret instead. The HMAC over the raw body and a fresh
timestamp (``services.suggestions.callback``) IS the authentication: the channel's configured tenant is the only
tenant the request can act on, an unknown channel or a bad or stale signature is a 401 before the body is read,
and a replay outside the tolerance window is refused.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from salesai.scoring.v1 import scoring_pb2
from salesai.suggestions.v1 import suggestions_pb2

from gateway.deps import BackendsDep, CrmCaller, ReaderCaller, RequestId
from services.leads.convert import SOURCE_NAMES, fields_from, struct, suggestion_from_pb, timestamp
from services.suggestions.callback import parse_callback
from services.suggestions.signing import InvalidSignature

router = APIRouter(prefix="/v1", tags=["leads"])

LeadId = Annotated[str, Path(min_length=1, max_length=200, description="The CRM's lead id.")]
FieldValue = str | int | float | bool | None
KINDS = {
    "accepted": suggestions_pb2.FEEDBACK_KIND_ACCEPTED,
    "edited": suggestions_pb2.FEEDBACK_KIND_EDITED,
    "rejected": suggestions_pb2.FEEDBACK_KIND_REJECTED,
}


class LeadUpsertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field("", max_length=200)
    stage: str = Field("", max_length=64, description='"" keeps the current stage; a change is recorded.')
    owner: str = Field("", max_length=200)
    language: Literal["", "zh", "en"] = Field("", description="The customer's language for drafts and factors.")
    fields: dict[str, FieldValue] = Field(
        default_factory=dict, max_length=100, description="Custom CRM fields (scalars); null removes one."
    )
    last_touch_at: datetime | None = Field(None, description="When a rep last contacted the lead.")


class OutcomePublic(BaseModel):
    outcome: str
    occurred_at: datetime
    note: str = ""


class LeadPublic(BaseModel):
    lead_id: str
    customer_id: str
    stage: str
    owner: str
    language: str
    fields: dict[str, Any]
    stage_entered_at: datetime
    last_touch_at: datetime | None
    created_at: datetime
    updated_at: datetime
    outcomes: list[OutcomePublic]

    @classmethod
    def from_pb(cls, pb: scoring_pb2.Lead) -> LeadPublic:
        return cls(
            lead_id=pb.lead_id,
            customer_id=pb.customer_id,
            stage=pb.stage,
            owner=pb.owner,
            language=pb.language,
            fields=fields_from(pb.fields),
            stage_entered_at=pb.stage_entered_at.ToDatetime(UTC),
            last_touch_at=pb.last_touch_at.ToDatetime(UTC) if pb.HasField("last_touch_at") else None,
            created_at=pb.created_at.ToDatetime(UTC),
            updated_at=pb.updated_at.ToDatetime(UTC),
            outcomes=[
                OutcomePublic(outcome=o.outcome, occurred_at=o.occurred_at.ToDatetime(UTC), note=o.note)
                for o in pb.outcomes
            ],
        )


class LeadUpsertPublic(BaseModel):
    lead: LeadPublic
    created: bool
    stage_changed: bool


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["won", "lost", "converted"]
    occurred_at: datetime | None = Field(None, description="Default: now.")
    note: str = Field("", max_length=2000)


class OutcomeRecorded(BaseModel):
    lead: LeadPublic
    created: bool = Field(description="false: this outcome was already recorded (nothing changed).")
    cases_indexed: int = Field(description="Messages of this lead added to the similar-situation index.")


class FactorPublic(BaseModel):
    name: str
    value: float | None = Field(description="The signal's value (null for a category or a missing value).")
    contribution: float = Field(description="Signed contribution to the log-odds.")
    description: str


class ScorePublic(BaseModel):
    lead_id: str
    probability: float = Field(description="Calibrated probability of a win.")
    score: int = Field(description="0..100, for display.")
    confidence: float
    model_version: str
    model_kind: str = ""
    fallback: bool = Field(False, description="true: the naive-Bayes fallback (too little data for trees).")
    base_value: float | None = Field(
        None, description="calibrate(base_value + sum of all contributions) is the probability."
    )
    threshold: float | None = None
    factors: list[FactorPublic] = Field(description="Top positive, then top negative factors.")

    @classmethod
    def from_pb(cls, pb: Any, reply: scoring_pb2.ScoreLeadResponse | None = None) -> ScorePublic:
        return cls(
            lead_id=pb.lead_id,
            probability=pb.probability,
            score=pb.score,
            confidence=pb.confidence,
            model_version=pb.model_version,
            model_kind=reply.model_kind if reply else "",
            fallback=reply.fallback if reply else False,
            base_value=reply.base_value if reply else None,
            threshold=reply.threshold if reply else None,
            factors=[
                FactorPublic(
                    name=f.name,
                    value=None if math.isnan(f.value) else f.value,
                    contribution=f.contribution,
                    description=f.description,
                )
                for f in pb.factors
            ],
        )


class SuggestionsPublic(BaseModel):
    lead_id: str
    score: ScorePublic | None
    score_source: Literal["model", "request", "none"] = Field(
        description="model: scored now; none: no scoring model trained yet (rules on the score did not apply)."
    )
    suggestions: list[dict[str, Any]] = Field(description="Most confident first; drafts are never sent automatically.")


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["accepted", "edited", "rejected"]
    edited_text: str = Field("", max_length=10_000, description="The rep's version (redacted before storage).")


class FeedbackPublic(BaseModel):
    feedback_id: str


class CallbackPublic(BaseModel):
    status: Literal["recorded", "edit_requested"]
    suggestion_id: str
    feedback_id: str = ""


def suggestions_public(tenant_id: str, reply: suggestions_pb2.SuggestResponse) -> list[dict[str, Any]]:
    """The full suggestions (evidence, drafts) as the engine made them, from the service's reply."""
    return [
        suggestion_from_pb(tenant_id, s, d).model_dump(mode="json")
        for s, d in zip(reply.suggestions, reply.details, strict=True)
    ]


@router.put("/leads/{lead_id}", response_model=LeadUpsertPublic, summary="Create or update a lead")
async def upsert_lead(
    lead_id: LeadId, body: LeadUpsertIn, response: Response, caller: CrmCaller, backends: BackendsDep, rid: RequestId
) -> LeadUpsertPublic:
    request = scoring_pb2.UpsertLeadRequest(
        tenant_id=caller.tenant_id,
        lead_id=lead_id,
        customer_id=body.customer_id,
        stage=body.stage,
        owner=body.owner,
        language=body.language,
        fields=struct(body.fields),
        last_touch_at=timestamp(body.last_touch_at),
        actor=f"key:{caller.key_id}",
    )
    reply = await backends.scoring.UpsertLead(request, **backends.call_options(rid))
    response.status_code = 201 if reply.created else 200
    return LeadUpsertPublic(
        lead=LeadPublic.from_pb(reply.lead), created=reply.created, stage_changed=reply.stage_changed
    )


@router.post("/leads/{lead_id}/outcome", response_model=OutcomeRecorded, summary="Record won / lost / converted")
async def record_outcome(
    lead_id: LeadId, body: OutcomeIn, response: Response, caller: CrmCaller, backends: BackendsDep, rid: RequestId
) -> OutcomeRecorded:
    request = scoring_pb2.RecordOutcomeRequest(
        tenant_id=caller.tenant_id,
        lead_id=lead_id,
        outcome=body.outcome,
        occurred_at=timestamp(body.occurred_at),
        note=body.note,
        actor=f"key:{caller.key_id}",
    )
    reply = await backends.scoring.RecordOutcome(request, **backends.call_options(rid))
    response.status_code = 201 if reply.created else 200
    return OutcomeRecorded(
        lead=LeadPublic.from_pb(reply.lead), created=reply.created, cases_indexed=reply.cases_indexed
    )


@router.get("/leads/{lead_id}/score", response_model=ScorePublic, summary="Score a lead now, with its factors")
async def score_lead(
    lead_id: LeadId,
    caller: ReaderCaller,
    backends: BackendsDep,
    rid: RequestId,
    language: Annotated[Literal["", "zh", "en"], Query(description="Factor sentences; default the lead's.")] = "",
    top: Annotated[int, Query(ge=1, le=100, description="Positive and negative factors each.")] = 5,
) -> ScorePublic:
    request = scoring_pb2.ScoreLeadRequest(
        tenant_id=caller.tenant_id, lead_id=lead_id, language=language, top_factors=top
    )
    reply = await backends.scoring.ScoreLead(request, **backends.call_options(rid))
    return ScorePublic.from_pb(reply.score, reply)


@router.get(
    "/leads/{lead_id}/suggestions",
    response_model=SuggestionsPublic,
    summary="Next actions for a lead from its stored history and a fresh score",
)
async def lead_suggestions(
    lead_id: LeadId,
    caller: ReaderCaller,
    backends: BackendsDep,
    rid: RequestId,
    language: Annotated[Literal["", "zh", "en"], Query(description="Drafts' language; default the lead's.")] = "",
    limit: Annotated[int, Query(ge=1, le=20)] = 3,
) -> SuggestionsPublic:
    request = suggestions_pb2.SuggestRequest(
        tenant_id=caller.tenant_id, lead_id=lead_id, language=language, limit=limit
    )
    reply = await backends.suggestions.Suggest(request, **backends.call_options(rid))
    return SuggestionsPublic(
        lead_id=lead_id,
        score=ScorePublic.from_pb(reply.score) if reply.HasField("score") else None,
        score_source=SOURCE_NAMES.get(reply.score_source, "none"),  # type: ignore[arg-type]
        suggestions=suggestions_public(caller.tenant_id, reply),
    )


@router.post(
    "/suggestions/{suggestion_id}/feedback",
    response_model=FeedbackPublic,
    status_code=201,
    summary="A rep's verdict on a suggestion (training data)",
)
async def suggestion_feedback(
    suggestion_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: FeedbackIn,
    caller: ReaderCaller,
    backends: BackendsDep,
    rid: RequestId,
) -> FeedbackPublic:
    request = suggestions_pb2.RecordFeedbackRequest(
        tenant_id=caller.tenant_id,
        suggestion_id=suggestion_id,
        kind=KINDS[body.decision],
        edited_draft=body.edited_text,
        actor=f"key:{caller.key_id}",
        channel="rest",
    )
    reply = await backends.suggestions.RecordFeedback(request, **backends.call_options(rid))
    return FeedbackPublic(feedback_id=reply.feedback_id)


@router.post(
    "/callbacks/{channel}",
    response_model=CallbackPublic,
    summary="A chat tool's button press (signed by the channel's secret; no API key)",
    responses={401: {"description": "Unknown channel, or a missing, bad or stale signature."}},
)
async def chat_callback(
    channel: Annotated[str, Path(min_length=1, max_length=64)], request: Request, backends: BackendsDep, rid: RequestId
) -> CallbackPublic:
    configured = backends.settings.callbacks.get(channel)
    if configured is None:  # same answer as a bad signature: channel names are not probeable
        raise InvalidSignature("unknown channel or bad signature")
    body = await request.body()
    action = parse_callback(request.headers, body, configured.secret.get_secret_value())
    if action.action == "edit" and not action.edited_text.strip():
        return CallbackPublic(status="edit_requested", suggestion_id=action.suggestion_id)
    reply = await backends.suggestions.RecordFeedback(
        suggestions_pb2.RecordFeedbackRequest(
            tenant_id=configured.tenant_id,
            suggestion_id=action.suggestion_id,
            kind=KINDS[action.decision],
            edited_draft=action.edited_text,
            actor=action.actor[:200],
            channel=channel,
        ),
        **backends.call_options(rid),
    )
    return CallbackPublic(status="recorded", suggestion_id=action.suggestion_id, feedback_id=reply.feedback_id)
