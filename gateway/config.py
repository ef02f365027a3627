"""Settings of the gateway process (``SALESAI_GATEWAY_*``, plus the shared ``SALESAI_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings
from services.suggestions.callback import CallbackChannel

#: what a backend URL may be (services/common/channels.py opens every channel with round_robin)
_TARGET = (
    "`host:port` (one address), or `dns:///host:port` to spread calls round-robin over every address the name "
    "resolves to (a headless Service: every ready pod)."
)


class GatewaySettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="SALESAI_GATEWAY_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface the REST API listens on.")
    port: int = Field(8000, ge=0, le=65535, description="REST port; 0 picks a free one.")
    ingestion_url: str = Field("127.0.0.1:50051", description=f"Target of the ingestion gRPC service: {_TARGET}")
    inference_url: str = Field("127.0.0.1:50052", description=f"Target of the inference gRPC service: {_TARGET}")
    training_url: str = Field("127.0.0.1:50053", description=f"Target of the training job gRPC service: {_TARGET}")
    leads_url: str = Field(
        "127.0.0.1:50054", description=f"Target of the leads (scoring + suggestions) service: {_TARGET}"
    )
    callbacks: dict[str, CallbackChannel] = Field(
        default_factory=dict,
        description='Chat-tool button callbacks by channel name: {"name": {"tenant_id": ..., "secret": ...}}.',
    )
    deadline_seconds: float = Field(10.0, gt=0, description="Deadline for each call into a gRPC service.")
    slow_deadline_seconds: float = Field(
        120.0, gt=0, description="Deadline for model lifecycle calls that load and evaluate a version."
    )
    readiness_timeout_seconds: float = Field(1.0, gt=0, description="Health-check timeout used by /readyz.")
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="Largest request body accepted (413 above).")
    rate_limit: str = Field(
        "100/second;5000/minute",
        description="Per-API-key limit in `limits` notation (`N/second;M/minute`); empty = unlimited.",
    )
    rate_limit_storage: str = Field(
        "memory://",
        description="Where rate-limit windows live: `memory://` (per replica) or `redis://host:6379/0` (shared).",
    )
    key_cache_seconds: float = Field(5.0, ge=0, description="How long a verified API key is trusted unchecked.")
    workbench_max_items: int = Field(
        5000, ge=1, description="Most items one workbench load (texts, upload or Label Studio import) may add."
    )
