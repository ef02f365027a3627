"""Classification: redact, then classify with every requested task in one pass."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from salesai.inference.v1 import inference_pb2
from salesai.ingestion.v1 import ingestion_pb2

from gateway.deps import BackendsDep, ReaderCaller, RequestId
from gateway.schemas import (
    ClassifiedText,
    ClassifyCreate,
    ClassifyPublic,
    PredictionPublic,
)

router = APIRouter(prefix="/v1", tags=["classification"])


@router.post(
    "/classify",
    response_model=ClassifyPublic,
    summary="Intent, risk and custom tasks for messages, with confidence and evidence (redacted first)",
)
async def classify(body: ClassifyCreate, caller: ReaderCaller, backends: BackendsDep, rid: RequestId) -> ClassifyPublic:
    options = backends.call_options(rid)
    redacted = await asyncio.gather(
        *(
            backends.ingestion.Redact(ingestion_pb2.RedactRequest(text=t.encode(), language=body.language), **options)
            for t in body.texts
        )
    )
    texts = [r.redacted_text for r in redacted]
    request = inference_pb2.ClassifyRequest(
        tenant_id=caller.tenant_id,
        texts=texts,
        tasks=body.tasks,
        explain=body.explain,
        conversation_id=body.conversation_id,
    )
    reply = await backends.inference.Classify(request, **options)
    return ClassifyPublic(
        results=[
            ClassifiedText(redacted_text=text, predictions=[PredictionPublic.from_pb(p) for p in row.predictions])
            for text, row in zip(texts, reply.results, strict=True)
        ]
    )
