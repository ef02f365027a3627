"""gRPC ⇄ domain for the leads service: ``ScoringService`` and ``SuggestionService``. No logic lives here."""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from salesai.common.v1 import types_pb2
from salesai.scoring.v1 import scoring_pb2, scoring_pb2_grpc
from salesai.suggestions.v1 import suggestions_pb2, suggestions_pb2_grpc

from services.common.errors import InvalidArgument
from services.leads.convert import (
    SOURCES,
    factor_from_pb,
    fields_from,
    lead_to_pb,
    score_to_pb,
    suggestion_to_pb,
    when,
)
from services.leads.core import LeadsCore
from services.leads.store import LeadUpsert, StoredPrediction

DECISIONS = {
    suggestions_pb2.FEEDBACK_KIND_ACCEPTED: "accepted",
    suggestions_pb2.FEEDBACK_KIND_EDITED: "edited",
    suggestions_pb2.FEEDBACK_KIND_REJECTED: "rejected",
}


class ScoringServicer(scoring_pb2_grpc.ScoringServiceServicer):
    def __init__(self, core: LeadsCore) -> None:
        self.core = core

    def ScoreLead(
        self, request: scoring_pb2.ScoreLeadRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.ScoreLeadResponse:
        score = self.core.score(request.tenant_id, request.lead_id, top=request.top_factors)
        language = self.core.factor_language(request.tenant_id, request.lead_id, request.language)
        return scoring_pb2.ScoreLeadResponse(
            score=score_to_pb(score, language),
            base_value=score.base_value,
            model_kind=score.model_kind,
            fallback=score.fallback,
            threshold=score.threshold,
        )

    def UpsertLead(
        self, request: scoring_pb2.UpsertLeadRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.UpsertLeadResponse:
        command = LeadUpsert(
            tenant_id=request.tenant_id,
            lead_id=request.lead_id,
            customer_id=request.customer_id,
            stage=request.stage,
            owner=request.owner,
            language=request.language,
            fields=fields_from(request.fields),
            last_touch_at=when(request, "last_touch_at"),
            actor=request.actor,
        )
        lead, created, changed = self.core.upsert(command)
        return scoring_pb2.UpsertLeadResponse(lead=lead_to_pb(lead), created=created, stage_changed=changed)

    def GetLead(self, request: scoring_pb2.GetLeadRequest, context: grpc.ServicerContext) -> scoring_pb2.Lead:
        return lead_to_pb(self.core.get(request.tenant_id, request.lead_id))

    def RecordOutcome(
        self, request: scoring_pb2.RecordOutcomeRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.RecordOutcomeResponse:
        lead, created, indexed = self.core.record_outcome(
            request.tenant_id,
            request.lead_id,
            request.outcome,
            occurred_at=when(request, "occurred_at"),
            note=request.note,
            actor=request.actor,
        )
        return scoring_pb2.RecordOutcomeResponse(lead=lead_to_pb(lead), created=created, cases_indexed=indexed)

    def RecordPredictions(
        self, request: scoring_pb2.RecordPredictionsRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.RecordPredictionsResponse:
        stored = self.core.record_predictions(request.tenant_id, predictions_from_pb(request.interactions))
        return scoring_pb2.RecordPredictionsResponse(stored=stored)

    def GetPredictions(
        self, request: scoring_pb2.GetPredictionsRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.GetPredictionsResponse:
        found = self.core.stored_predictions(request.tenant_id, list(request.interaction_ids))
        return scoring_pb2.GetPredictionsResponse(
            interactions=[
                scoring_pb2.InteractionPredictions(interaction_id=i, predictions=[stored_to_pb(p) for p in found[i]])
                for i in request.interaction_ids
                if i in found
            ]
        )

    def EraseCustomer(
        self, request: scoring_pb2.EraseCustomerRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.EraseCustomerResponse:
        erased = self.core.erase_customer(request.tenant_id, request.customer_id, request.actor)
        return scoring_pb2.EraseCustomerResponse(erased=erased.as_dict())


def stored_to_pb(p: StoredPrediction) -> types_pb2.Prediction:
    return types_pb2.Prediction(
        task=p.task,
        label=p.label,
        confidence=p.confidence,
        model_version=p.model_version,
        evidence=[
            types_pb2.EvidenceSpan(
                start=int(e.get("start", 0)),
                end=int(e.get("end", 0)),
                text=str(e.get("text", "")),
                weight=float(e.get("weight", 0.0)),
            )
            for e in p.evidence
        ],
    )


def predictions_from_pb(
    interactions: Iterable[scoring_pb2.InteractionPredictions],
) -> list[tuple[str, list[StoredPrediction]]]:
    return [
        (
            item.interaction_id,
            [
                StoredPrediction(
                    task=p.task,
                    label=p.label,
                    confidence=p.confidence,
                    model_version=p.model_version,
                    evidence=tuple(
                        {"start": e.start, "end": e.end, "text": e.text, "weight": e.weight} for e in p.evidence
                    ),
                )
                for p in item.predictions
            ],
        )
        for item in interactions
    ]


class SuggestionServicer(suggestions_pb2_grpc.SuggestionServiceServicer):
    def __init__(self, core: LeadsCore) -> None:
        self.core = core

    def Suggest(
        self, request: suggestions_pb2.SuggestRequest, context: grpc.ServicerContext
    ) -> suggestions_pb2.SuggestResponse:
        if request.record:
            self.core.record_predictions(request.tenant_id, predictions_from_pb(request.record))
        result = self.core.suggest(
            request.tenant_id,
            request.lead_id,
            language=request.language,
            limit=request.limit,
            fallback_score=request.fallback_score if request.HasField("fallback_score") else None,
            fallback_factors=[factor_from_pb(f) for f in request.fallback_factors],
            last_touch_at=when(request, "last_touch_at"),
            embeddings={i: (e.model, e.values) for i, e in request.embeddings.items()},
        )
        pairs = [suggestion_to_pb(s) for s in result.suggestions]
        reply = suggestions_pb2.SuggestResponse(
            suggestions=[c for c, _ in pairs],
            details=[d for _, d in pairs],
            score_source=SOURCES[result.score_source],
        )
        if result.score is not None:
            language = request.language or (pairs[0][1].language if pairs else "en")
            reply.score.CopyFrom(score_to_pb(result.score, language))
        return reply

    def RecordFeedback(
        self, request: suggestions_pb2.RecordFeedbackRequest, context: grpc.ServicerContext
    ) -> suggestions_pb2.RecordFeedbackResponse:
        decision = DECISIONS.get(request.kind)
        if decision is None:
            raise InvalidArgument("kind must be accepted, edited or rejected", field="kind")
        feedback_id = self.core.feedback(
            request.tenant_id,
            request.suggestion_id,
            decision,
            edited_text=request.edited_draft,
            actor=request.actor,
            channel=request.channel,
        )
        return suggestions_pb2.RecordFeedbackResponse(feedback_id=feedback_id)
