"""``/v1/analyze``: one call that ingests a message (redacted and stored), classifies it and the lead's recent
messages in one pass, and returns next-action suggestions with confidence, evidence and editable AI drafts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from salesai.inference.v1 import inference_pb2
from salesai.ingestion.v1 import ingestion_pb2

from gateway.deps import BackendsDep, CrmCaller, RequestId
from gateway.schemas import AnalyzeCreate, AnalyzePublic, InteractionPublic, PredictionPublic
from services.suggestions.domain import InteractionView, LeadContext, Prediction, ScoreFactor, Span

router = APIRouter(prefix="/v1", tags=["analyze"])


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


@router.post(
    "/analyze",
    response_model=AnalyzePublic,
    summary="Ingest a message, classify it with the lead's recent ones, and suggest next actions",
)
async def analyze(
    body: AnalyzeCreate, request: Request, caller: CrmCaller, backends: BackendsDep, rid: RequestId
) -> AnalyzePublic:
    options = backends.call_options(rid)
    ingest = body.to_pb(caller.tenant_id)
    history_ids = [i for i in dict.fromkeys(body.recent_interaction_ids)]
    replies = await asyncio.gather(
        backends.ingestion.Ingest(ingest, **options),
        *(
            backends.ingestion.GetInteraction(
                ingestion_pb2.GetInteractionRequest(tenant_id=caller.tenant_id, interaction_id=i), **options
            )
            for i in history_ids
        ),
    )
    created = replies[0]
    current = InteractionPublic.from_pb(created.interaction)
    history = [InteractionPublic.from_pb(pb) for pb in replies[1:] if pb.id != current.id]
    interactions = [*history, current]
    classified = await backends.inference.Classify(
        inference_pb2.ClassifyRequest(
            tenant_id=caller.tenant_id,
            texts=[i.redacted_text for i in interactions],
            tasks=["intent", "risk"],
            explain=True,
            conversation_id=body.conversation_id or body.lead_id or body.customer_id,
        ),
        **options,
    )
    predictions = [[PredictionPublic.from_pb(p) for p in row.predictions] for row in classified.results]
    views = sorted((_view(i, p) for i, p in zip(interactions, predictions, strict=True)), key=lambda v: v.occurred_at)
    lead = LeadContext(
        tenant_id=caller.tenant_id,
        lead_id=body.lead_id or body.customer_id or current.id,
        score=body.lead_score,
        factors=tuple(ScoreFactor(**f.model_dump()) for f in body.lead_factors),
        last_touch_at=body.last_touch_at,
    )
    engine = request.app.state.suggestions
    suggestions = engine.suggest(lead, views, now=datetime.now(UTC))
    return AnalyzePublic(
        interaction=current,
        created=created.created,
        predictions=predictions[-1],
        suggestions=[s.model_dump(mode="json") for s in suggestions],
    )
