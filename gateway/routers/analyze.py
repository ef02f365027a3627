"""``/v1/analyze``: one call that ingests a message (redacted and stored), classifies it together with those of
the lead's recent messages that were never classified (one pass; a message with stored predictions is not
classified again), stores those predictions, rescores the lead through the leads service and returns the
next-action suggestions it stored, with confidence, evidence and editable AI drafts.

The body's ``lead_score`` is used only when no scoring model has been trained yet (``score_source: "request"``).
Without a ``lead_id`` nothing can be stored about a lead: the suggestions are computed here, statelessly, from
the given messages and the body's score.

A rep's own message (``direction: "outbound"``) is stored and rescores the lead — it feeds reply latency and
touch frequency — but is never classified as customer intent and never runs the playbook: the reply has no
predictions and no suggestions. Outbound messages among ``recent_interaction_ids`` are not classified either.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import grpc
from fastapi import APIRouter, Request, Response
from salesai.common.v1 import types_pb2
from salesai.inference.v1 import inference_pb2
from salesai.ingestion.v1 import ingestion_pb2
from salesai.scoring.v1 import scoring_pb2
from salesai.suggestions.v1 import suggestions_pb2

from gateway.backends import Backends
from gateway.deps import BackendsDep, CrmCaller, RequestId
from gateway.routers.leads import ScorePublic, suggestions_public
from gateway.schemas import AnalyzeCreate, AnalyzePublic, InteractionPublic, LeadFactorIn, PredictionPublic
from services.leads.convert import SOURCE_NAMES, timestamp
from services.suggestions.domain import InteractionView, LeadContext, Prediction, ScoreFactor, Span

router = APIRouter(prefix="/v1", tags=["analyze"])

#: suggestions /v1/analyze returns at most (the leads service's ceiling)
MAX_SUGGESTIONS = 20


class ServerTiming:
    """The ``Server-Timing`` header (W3C): how long each stage of the call took, for a CRM backend's tracing."""

    def __init__(self, response: Response) -> None:
        self.response = response
        self.last = time.perf_counter()
        self.parts: list[str] = []

    def mark(self, stage: str) -> None:
        now = time.perf_counter()
        self.parts.append(f"{stage};dur={(now - self.last) * 1000:.1f}")
        self.last = now
        self.response.headers["Server-Timing"] = ", ".join(self.parts)


def _view(interaction: InteractionPublic, predictions: list[PredictionPublic]) -> InteractionView:
    return InteractionView(
        id=interaction.id,
        occurred_at=interaction.occurred_at,
        text=interaction.redacted_text,
        language=interaction.language if interaction.language in ("zh", "en", "mixed") else "en",
        predictions=tuple(
            Prediction(
                task=p.task,
                label=p.label,
                confidence=min(1.0, max(0.0, p.confidence)),
                evidence=tuple(Span(start=e.start, end=e.end, text=e.text, weight=e.weight) for e in p.evidence),
            )
            for p in predictions
        ),
    )


def _stored_predictions(
    interactions: list[InteractionPublic], classified: inference_pb2.ClassifyResponse
) -> list[scoring_pb2.InteractionPredictions]:
    return [
        scoring_pb2.InteractionPredictions(interaction_id=i.id, predictions=list(row.predictions))
        for i, row in zip(interactions, classified.results, strict=True)
    ]


def _factor_pb(factor: LeadFactorIn) -> types_pb2.Factor:
    value = factor.value if isinstance(factor.value, int | float) else float("nan")
    return types_pb2.Factor(
        name=factor.feature, value=value, contribution=factor.contribution, description=factor.text_en or factor.text_zh
    )


def _suggest_request(tenant_id: str, body: AnalyzeCreate) -> suggestions_pb2.SuggestRequest:
    request = suggestions_pb2.SuggestRequest(
        tenant_id=tenant_id,
        lead_id=body.lead_id,
        limit=MAX_SUGGESTIONS,
        fallback_factors=[_factor_pb(f) for f in body.lead_factors],
        last_touch_at=timestamp(body.last_touch_at),
    )
    if body.lead_score is not None:
        request.fallback_score = body.lead_score
    return request


@router.post(
    "/analyze",
    response_model=AnalyzePublic,
    summary="Ingest a message, classify it with the lead's recent ones, rescore the lead, suggest next actions",
    description="A customer's message (direction inbound, the default) is classified with the lead's recent "
    "customer messages and runs the playbook. A rep's own message (direction outbound) is stored and rescores "
    "the lead (reply latency, touch frequency) but is not classified as customer intent and triggers no "
    "suggestions: `predictions` and `suggestions` are empty.",
)
async def analyze(
    body: AnalyzeCreate,
    request: Request,
    response: Response,
    caller: CrmCaller,
    backends: BackendsDep,
    rid: RequestId,
) -> AnalyzePublic:
    options = backends.call_options(rid)
    timing = ServerTiming(response)
    if body.direction == "outbound":
        return await _outbound(caller.tenant_id, body, backends, options)
    created, history, known = await _receive(backends, caller.tenant_id, body, options)
    timing.mark("ingest")
    current = InteractionPublic.from_pb(created.interaction)
    # a recent message the leads service holds predictions for was classified when it came: not again
    interactions = [*(h for h in history if h.id != current.id and h.id not in known), current]
    classified = await backends.inference.Classify(
        inference_pb2.ClassifyRequest(
            tenant_id=caller.tenant_id,
            texts=[i.redacted_text for i in interactions],
            tasks=["intent", "risk"],
            explain=True,
            embed=bool(body.lead_id),  # the leads service's similar-case search reuses them
            conversation_id=body.conversation_id or body.lead_id or body.customer_id,
        ),
        **options,
    )
    timing.mark("classify")
    predictions = [[PredictionPublic.from_pb(p) for p in row.predictions] for row in classified.results]
    reply = AnalyzePublic(interaction=current, created=created.created, predictions=predictions[-1], suggestions=[])
    if not body.lead_id:
        views = sorted(
            (_view(i, p) for i, p in zip(interactions, predictions, strict=True)), key=lambda v: v.occurred_at
        )
        return _stateless(request, caller.tenant_id, body, current, views, reply)
    # one call stores the predictions, rescores the lead and runs the playbook on the stored history
    suggest = _suggest_request(caller.tenant_id, body)
    suggest.record.extend(_stored_predictions(interactions, classified))
    for interaction, row in zip(interactions, classified.results, strict=True):
        if row.HasField("embedding"):
            suggest.embeddings[interaction.id].CopyFrom(row.embedding)
    suggested = await backends.suggestions.Suggest(suggest, **options)
    timing.mark("suggest")
    reply.suggestions = suggestions_public(caller.tenant_id, suggested)
    reply.score_source = SOURCE_NAMES.get(suggested.score_source, "none")  # type: ignore[assignment]
    reply.score = ScorePublic.from_pb(suggested.score).model_dump(mode="json") if suggested.HasField("score") else None
    return reply


async def _receive(
    backends: Backends, tenant_id: str, body: AnalyzeCreate, options: dict[str, object]
) -> tuple[ingestion_pb2.IngestResponse, list[InteractionPublic], set[str]]:
    """Ingest the message and read the recent ones (the customer's), all at once; for a lead, also which of the
    recent ones already have stored predictions."""
    ids = list(dict.fromkeys(body.recent_interaction_ids))
    reads = [
        backends.ingestion.GetInteraction(
            ingestion_pb2.GetInteractionRequest(tenant_id=tenant_id, interaction_id=i), **options
        )
        for i in ids
    ]
    lookup = [_classified_already(backends, tenant_id, ids, options)] if body.lead_id and ids else []
    replies = await asyncio.gather(backends.ingestion.Ingest(body.to_pb(tenant_id), **options), *reads, *lookup)
    history = [InteractionPublic.from_pb(pb) for pb in replies[1 : 1 + len(ids)] if pb.direction != "outbound"]
    return replies[0], history, replies[-1] if lookup else set()


async def _classified_already(
    backends: Backends, tenant_id: str, ids: list[str], options: dict[str, object]
) -> set[str]:
    """Which of ``ids`` have stored predictions; none when the leads service predates GetPredictions (an upgrade
    in progress: every recent message is then classified, as before)."""
    request = scoring_pb2.GetPredictionsRequest(tenant_id=tenant_id, interaction_ids=ids)
    try:
        reply = await backends.scoring.GetPredictions(request, **options)
    except grpc.aio.AioRpcError as err:
        if err.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise
        return set()
    return {item.interaction_id for item in reply.interactions}


async def _outbound(
    tenant_id: str, body: AnalyzeCreate, backends: Backends, options: dict[str, object]
) -> AnalyzePublic:
    """Store the rep's message and rescore the lead; nothing is classified, no rule runs."""
    created = await backends.ingestion.Ingest(body.to_pb(tenant_id), **options)
    current = InteractionPublic.from_pb(created.interaction)
    reply = AnalyzePublic(interaction=current, created=created.created, predictions=[], suggestions=[])
    if not body.lead_id:
        return reply
    # no predictions to store: recording the message still creates a lead the CRM has not sent yet
    await backends.scoring.RecordPredictions(
        scoring_pb2.RecordPredictionsRequest(
            tenant_id=tenant_id, interactions=[scoring_pb2.InteractionPredictions(interaction_id=current.id)]
        ),
        **options,
    )
    request = scoring_pb2.ScoreLeadRequest(tenant_id=tenant_id, lead_id=body.lead_id)
    try:
        scored = await backends.scoring.ScoreLead(request, **options)
    except grpc.aio.AioRpcError as err:
        if err.code() != grpc.StatusCode.FAILED_PRECONDITION:  # FAILED_PRECONDITION: no scoring model trained yet
            raise
        return reply
    reply.score = ScorePublic.from_pb(scored.score, scored).model_dump(mode="json")
    reply.score_source = "model"
    return reply


def _stateless(
    request: Request,
    tenant_id: str,
    body: AnalyzeCreate,
    current: InteractionPublic,
    views: list[InteractionView],
    reply: AnalyzePublic,
) -> AnalyzePublic:
    lead = LeadContext(
        tenant_id=tenant_id,
        lead_id=body.customer_id or current.id,
        score=body.lead_score,
        factors=tuple(ScoreFactor(**f.model_dump()) for f in body.lead_factors),
        last_touch_at=body.last_touch_at,
    )
    suggestions = request.app.state.suggestions.suggest(lead, views, now=datetime.now(UTC))
    reply.suggestions = [s.model_dump(mode="json") for s in suggestions]
    reply.score_source = "request" if body.lead_score is not None else "none"
    return reply
