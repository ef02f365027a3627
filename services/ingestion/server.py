"""Wire the ingestion service: settings → database, vault, redactor → servicer → gRPC server."""

from __future__ import annotations

from salesai.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from annotation.store import erase_customer_items
from services.common.secrets import load_secrets
from services.common.server import GrpcServer, Hosted, build_server
from services.common.storage import Database, upgrade
from services.ingestion.config import IngestionSettings
from services.ingestion.core import IngestionCore
from services.ingestion.redaction import Redactor
from services.ingestion.servicer import IngestionServicer
from services.ingestion.vault import TenantVault
from services.leads.erasure import erase_customer_records

SERVICE_NAME = ingestion_pb2.DESCRIPTOR.services_by_name["IngestionService"].full_name

WARM_UP_TEXTS = ("我的手机是13812345678，邮箱 zhang@example.com", "Call Mr. John Smith at +1 415 555 0100")


def create_core(settings: IngestionSettings, redactor: Redactor | None = None) -> IngestionCore:
    upgrade(settings.resolved_database_url)
    secrets = load_secrets(settings)
    return IngestionCore(
        db=Database(settings.resolved_database_url),
        redactor=redactor or Redactor(settings.redaction),
        vault=TenantVault(secrets.master_key),
        max_text_bytes=settings.max_text_bytes,
        reveal_roles=tuple(settings.reveal_roles),
        # erasing a customer reaches every row derived from their messages in this database (workbench items and
        # snapshot rows; predictions, suggestions, the customer row, their leads anonymised); vectors: the leads
        # service's EraseCustomer, which the gateway calls first
        erasers=[erase_customer_items, erase_customer_records],
    )


def create_server(settings: IngestionSettings, *, redactor: Redactor | None = None) -> tuple[GrpcServer, int]:
    """Build the service (``redactor`` lets tests share one already-loaded engine)."""
    core = create_core(settings, redactor)

    def warm_up() -> None:
        for text in WARM_UP_TEXTS:
            core.redact(text)

    hosted = Hosted(
        SERVICE_NAME, IngestionServicer(core), ingestion_pb2_grpc.add_IngestionServiceServicer_to_server, warm_up
    )
    grpc_server, port = build_server(settings, [hosted])
    grpc_server.on_stop.append(core.db.dispose)
    return grpc_server, port
