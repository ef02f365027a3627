"""Wire the leads service: settings → database, scoring registry, playbook, similar index, channels → servicers →
one gRPC server hosting ``ScoringService`` and ``SuggestionService``, plus the stale-lead scan when channels are set.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from salesai.scoring.v1 import scoring_pb2, scoring_pb2_grpc
from salesai.suggestions.v1 import suggestions_pb2, suggestions_pb2_grpc

from services.common.server import GrpcServer, Hosted, build_server
from services.common.storage import Database, upgrade
from services.common.storage.lock import try_exclusive
from services.ingestion.redaction import Redactor
from services.leads.config import LeadsSettings
from services.leads.core import LeadsCore
from services.leads.scorer import LiveScorer
from services.leads.servicer import ScoringServicer, SuggestionServicer
from services.leads.store import LeadStore
from services.scoring.registry import ScoringRegistry
from services.suggestions.channels import build_channel
from services.suggestions.delivery import Deliverer
from services.suggestions.engine import SuggestionEngine
from services.suggestions.feedback import SuggestionStore
from services.suggestions.playbook import load_playbook
from services.suggestions.similar import SimilarSituations
from services.suggestions.triggers import SuggestionPipeline, scan_forever

SCORING = scoring_pb2.DESCRIPTOR.services_by_name["ScoringService"].full_name
SUGGESTIONS = suggestions_pb2.DESCRIPTOR.services_by_name["SuggestionService"].full_name
WARM_UP_TEXT = "预算冻结了，下个季度再说 / budget is frozen until next quarter"


def create_similar(settings: LeadsSettings, encoder: Any | None) -> SimilarSituations | None:
    if not settings.similar:
        return None
    if encoder is None:
        from models.encoder import BaseEncoder  # torch: imported only when the index is on

        encoder = BaseEncoder.from_settings(settings.models)
    if settings.qdrant_url:
        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return SimilarSituations.remote(settings.qdrant_url, encoder, api_key=key)
    settings.resolved_qdrant_path.mkdir(parents=True, exist_ok=True)
    return SimilarSituations.local(str(settings.resolved_qdrant_path), encoder)


def create_core(
    settings: LeadsSettings, *, encoder: Any | None = None, redactor: Redactor | None = None
) -> tuple[LeadsCore, Database, ThreadPoolExecutor]:
    upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    redactor = redactor or Redactor(settings.redaction)
    similar = create_similar(settings, encoder)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deliver")
    pipeline = SuggestionPipeline(
        SuggestionEngine(load_playbook(settings.resolved_playbook), similar=similar),
        SuggestionStore(db, lambda text: redactor.redact(text).text),
        Deliverer(db, policy=settings.retry) if settings.channels else None,
        [build_channel(c) for c in settings.channels],
        min_confidence=settings.min_confidence,
        executor=executor,
    )
    scorer = LiveScorer(
        ScoringRegistry(settings.resolved_scoring_dir), settings.scoring_model, window_days=settings.window_days
    )
    core = LeadsCore(LeadStore(db), scorer, pipeline, similar=similar, history_limit=settings.history_limit)
    return core, db, executor


def create_server(
    settings: LeadsSettings, *, encoder: Any | None = None, redactor: Redactor | None = None
) -> tuple[GrpcServer, int]:
    """Build the service (``encoder`` and ``redactor`` let tests share engines already loaded)."""
    core, db, executor = create_core(settings, encoder=encoder, redactor=redactor)
    stop = threading.Event()

    def warm_up() -> None:
        if core.similar is not None:
            core.similar.encoder.embed([WARM_UP_TEXT])
            core.forget_erased()  # customers erased while this service was down leave no vector behind
        if settings.channels:  # the scan pushes cards; without a channel it would have nowhere to send them
            threading.Thread(
                target=scan_forever,
                args=(core.pipeline, lambda: core.scan_items(limit=settings.scan_max_leads)),
                kwargs={
                    "interval_s": settings.scan_interval_s,
                    "stop": stop,
                    # one replica scans per round (the lock is the database's: every replica sees it)
                    "exclusive": lambda: try_exclusive(db, "leads.stale-lead-scan"),
                },
                name="stale-lead-scan",
                daemon=True,
            ).start()

    hosted = [
        Hosted(SCORING, ScoringServicer(core), scoring_pb2_grpc.add_ScoringServiceServicer_to_server, warm_up),
        Hosted(SUGGESTIONS, SuggestionServicer(core), suggestions_pb2_grpc.add_SuggestionServiceServicer_to_server),
    ]
    grpc_server, port = build_server(settings, hosted)

    def close() -> None:
        stop.set()
        executor.shutdown(wait=True)
        if core.similar is not None:
            core.similar.close()
        db.dispose()

    grpc_server.on_stop.append(close)
    return grpc_server, port
