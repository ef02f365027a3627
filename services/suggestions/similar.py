"""Similar past situations: E5 sentence embeddings of redacted messages in Qdrant, one collection, per-tenant filter.

Embedded local mode by default (``SimilarSituations.local(path_or_":memory:", encoder)``: no server, data in a
folder), a Qdrant server for scale (``SimilarSituations.remote(url, encoder)``). Every point carries the
``tenant_id``, the deal ``outcome`` (won / lost), the message's ``case_id`` (its interaction id) and, for points
stored since erasure reached this index, the ``customer_id``; every search filters on the tenant, so one tenant
never sees another's messages. Only redacted text is stored, and :meth:`SimilarSituations.forget` removes a
customer's messages when the customer is erased.

Messages are compared with messages, so both sides are embedded alike, with no instruction prefix: that is
what a classification pass computes beside its tasks (``Classify`` with ``embed``), so a live message is never
embedded twice. On the bundled intent data the symmetric, prefix-free vectors retrieve at least as well as
E5's asymmetric ``query:``/``passage:`` pair (a test message's 3 nearest training messages share its intent
49.8% of the time against 47.6%, nearest neighbour 55.4% against 52.9%), and a prefix-free query still finds
points stored with ``passage:`` as well as before (47.3%), so an existing index needs no rebuild
(``bench/similar_retrieval_bench.py``).
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal, Protocol

from prometheus_client import Counter
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from services.common.errors import InvalidArgument
from services.suggestions.domain import SimilarCase

DEFAULT_COLLECTION = "salesai_situations"
QUERY_VECTORS = Counter(
    "salesai_similar_query_vectors_total",
    "Similar-case searches by where the query vector came from: the caller's classification pass, or a pass of "
    "this process's encoder (a steady share of 'embedded' on /v1/analyze traffic means the services' encoders differ)",
    ["source"],
)
Outcome = Literal["won", "lost"]


class Embedder(Protocol):
    """``models.encoder.BaseEncoder`` fits: L2-normalised vectors, one per text."""

    @property
    def embedding_model(self) -> str:
        """Identity of its vectors: a precomputed vector is used only when it matches."""
        ...

    def embed(self, texts: Sequence[str], prefix: str = "") -> Any: ...


@dataclass(frozen=True)
class PastCase:
    """A redacted message from a closed deal."""

    case_id: str
    text: str
    outcome: Outcome
    lead_id: str = ""
    note: str = ""  # what the rep did next, e.g. "sent the ROI case study"
    customer_id: str = ""  # whose message it is: erasing that customer forgets the point


def _point_id(tenant_id: str, case_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"salesai:{tenant_id}:{case_id}"))


class SimilarSituations:
    def __init__(self, client: QdrantClient, encoder: Embedder, *, collection: str = DEFAULT_COLLECTION) -> None:
        self.client = client
        self.encoder = encoder
        self.collection = collection
        self._ready = False

    @classmethod
    def local(cls, path: str, encoder: Embedder, **kwargs: Any) -> SimilarSituations:
        """Embedded Qdrant: ``path`` is a folder, or ``":memory:"``."""
        client = QdrantClient(location=":memory:") if path == ":memory:" else QdrantClient(path=path)
        return cls(client, encoder, **kwargs)

    @classmethod
    def remote(cls, url: str, encoder: Embedder, *, api_key: str | None = None, **kwargs: Any) -> SimilarSituations:
        return cls(QdrantClient(url=url, api_key=api_key), encoder, **kwargs)

    def _ensure_collection(self, size: int) -> None:
        if self._ready:
            return
        if not self.client.collection_exists(self.collection):
            params = models.VectorParams(size=size, distance=models.Distance.COSINE)
            try:
                self.client.create_collection(self.collection, vectors_config=params)
            except UnexpectedResponse as err:  # a server shared by replicas: another one created it since we looked
                if err.status_code != HTTPStatus.CONFLICT:
                    raise
            with warnings.catch_warnings():  # a server indexes these; embedded mode ignores the call, with a warning
                warnings.simplefilter("ignore", UserWarning)
                for key in ("tenant_id", "outcome", "case_id", "customer_id"):
                    self.client.create_payload_index(self.collection, key, models.PayloadSchemaType.KEYWORD)
        self._ready = True

    def _vectors(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self.encoder.embed(list(texts), prefix="")
        return [[float(x) for x in row] for row in vectors.tolist()]

    def add(self, tenant_id: str, cases: Iterable[PastCase]) -> int:
        """Embed and upsert ``cases`` for ``tenant_id`` (idempotent per case id); the number stored."""
        cases = list(cases)
        if not tenant_id:
            raise InvalidArgument("tenant_id is required", field="tenant_id")
        if not cases:
            return 0
        vectors = self._vectors([c.text for c in cases])
        self._ensure_collection(len(vectors[0]))
        points = [
            models.PointStruct(id=_point_id(tenant_id, c.case_id), vector=v, payload=_payload(tenant_id, c))
            for c, v in zip(cases, vectors, strict=True)
        ]
        self.client.upsert(self.collection, points=points, wait=True)
        return len(points)

    def accepts(self, model: str) -> bool:
        """Whether vectors made by ``model`` compare with this index's (the same encoder made them)."""
        return bool(model) and model == self.encoder.embedding_model

    def search(
        self,
        tenant_id: str,
        text: str,
        *,
        limit: int = 3,
        outcome: str | None = "won",
        min_score: float = 0.0,
        vector: Sequence[float] | None = None,
    ) -> list[SimilarCase]:
        """The ``limit`` past messages of ``tenant_id`` closest to ``text`` (cosine), optionally of one outcome.

        ``vector``: the text's embedding when the caller already has it (see :meth:`accepts`), saving a pass.
        """
        if not self._ready:
            if not self.client.collection_exists(self.collection):
                return []
            self._ready = True
        must = [models.FieldCondition(key="tenant_id", match=models.MatchValue(value=tenant_id))]
        if outcome is not None:
            must.append(models.FieldCondition(key="outcome", match=models.MatchValue(value=outcome)))
        found = self.client.query_points(
            self.collection,
            query=self._query(text, vector),
            query_filter=models.Filter(must=must),
            limit=limit,
            with_payload=True,
            score_threshold=min_score,
        ).points
        return [_case(point.payload or {}, point.score) for point in found]

    def _query(self, text: str, vector: Sequence[float] | None) -> list[float]:
        QUERY_VECTORS.labels("classification" if vector else "embedded").inc()
        return list(vector) if vector else self._vectors([text])[0]

    def forget(self, tenant_id: str, *, case_ids: Sequence[str] = (), customer_id: str = "") -> int:
        """Delete ``tenant_id``'s points of these case ids or of this customer (erasure); the number deleted."""
        who = []
        if case_ids:
            who.append(models.FieldCondition(key="case_id", match=models.MatchAny(any=list(case_ids))))
        if customer_id:
            who.append(models.FieldCondition(key="customer_id", match=models.MatchValue(value=customer_id)))
        if not tenant_id or not who or not self.client.collection_exists(self.collection):
            return 0
        doomed = models.Filter(
            must=[models.FieldCondition(key="tenant_id", match=models.MatchValue(value=tenant_id))], should=who
        )
        found = self.client.count(self.collection, count_filter=doomed, exact=True).count
        if found:
            self.client.delete(self.collection, points_selector=models.FilterSelector(filter=doomed), wait=True)
        return found

    def cases(self, *, batch: int = 512) -> Iterator[tuple[str, str]]:
        """Every stored ``(tenant_id, case_id)`` (to find points whose message is gone)."""
        if not self.client.collection_exists(self.collection):
            return
        offset = None
        while True:
            points, offset = self.client.scroll(
                self.collection, limit=batch, offset=offset, with_payload=["tenant_id", "case_id"]
            )
            for point in points:
                payload = point.payload or {}
                yield str(payload.get("tenant_id", "")), str(payload.get("case_id", ""))
            if offset is None:
                return

    def close(self) -> None:
        self.client.close()


def _payload(tenant_id: str, case: PastCase) -> dict[str, str]:
    return {
        "tenant_id": tenant_id,
        "case_id": case.case_id,
        "text": case.text,
        "outcome": case.outcome,
        "lead_id": case.lead_id,
        "note": case.note,
        "customer_id": case.customer_id,
    }


def _case(payload: dict[str, Any], score: float) -> SimilarCase:
    return SimilarCase(
        case_id=str(payload.get("case_id", "")),
        text=str(payload.get("text", "")),
        outcome=str(payload.get("outcome", "")),
        score=round(float(score), 4),
        lead_id=str(payload.get("lead_id", "")),
        note=str(payload.get("note", "")),
    )
