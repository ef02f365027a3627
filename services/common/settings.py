"""Settings shared by every salesai process.

Each process has exactly one pydantic-settings class (a subclass of :class:`GrpcServiceSettings` for a
gRPC service, or the gateway's own); ``main`` reads it once and passes it down. Keys shared by every
process (database, data folder, logging, secrets, gRPC keepalive) are read from ``SALESAI_<NAME>``; a service's own keys
from ``SALESAI_<SERVICE>_<NAME>`` (e.g. ``SALESAI_INGESTION_PORT``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def shared(default: Any, name: str, description: str, **constraints: Any) -> Any:
    """A field every process reads under the same ``SALESAI_<NAME>`` key, whatever its own prefix."""
    return Field(
        default,
        validation_alias=AliasChoices(f"SALESAI_{name.upper()}", name),
        description=description,
        **constraints,
    )


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SALESAI_", extra="ignore", populate_by_name=True)

    data_dir: Path = shared(Path("data"), "data_dir", "Folder for the SQLite file, the vector store and logs.")
    database_url: str | None = shared(
        None, "database_url", "SQLAlchemy URL; default sqlite:///<data_dir>/salesai.db. PostgreSQL by URL."
    )
    log_level: str = shared("INFO", "log_level", "Python log level.")
    log_json: bool = shared(True, "log_json", "Structured JSON log lines (false: plain text).")
    master_key: SecretStr | None = shared(
        None,
        "master_key",
        "Base64 32-byte key that wraps per-tenant data keys. Default: generated into <data_dir>/secrets.json.",
    )
    api_key_pepper: SecretStr | None = shared(
        None,
        "api_key_pepper",
        "Secret mixed into API-key hashes. Default: generated into <data_dir>/secrets.json.",
    )
    # shared: gRPC servers allow the keepalive pings their clients send (services/common/channels.py)
    grpc_keepalive_seconds: float = shared(
        30.0,
        "grpc_keepalive_seconds",
        "gRPC clients ping an idle connection this often (servers allow pings twice as often), so a connection to "
        "a pod that vanished without closing it is dropped before the next call waits for it.",
        ge=1,
    )
    grpc_keepalive_timeout_seconds: float = shared(
        10.0,
        "grpc_keepalive_timeout_seconds",
        "How long a gRPC keepalive ping may go unanswered before the connection is dropped and reopened.",
        gt=0,
    )
    grpc_client_max_message_bytes: int = shared(
        8 * 1024 * 1024,
        "grpc_client_max_message_bytes",
        "Largest gRPC message a client (gateway, training deploys) sends or receives; as the services' "
        "`*_MAX_MESSAGE_BYTES`.",
        ge=1024,
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'salesai.db').as_posix()}"


class GrpcServiceSettings(CommonSettings):
    """Settings of one gRPC service process. Subclasses set ``env_prefix`` to ``SALESAI_<SERVICE>_``."""

    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(0, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Prometheus /metrics port; 0 picks a free one; unset disables."
    )
    max_workers: int = Field(16, ge=1, description="Threads serving RPCs.")
    max_message_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="Largest gRPC message accepted.")
    grace_seconds: float = Field(10.0, ge=0, description="How long in-flight RPCs may finish on shutdown.")
    max_connection_age_seconds: float = Field(
        300.0,
        ge=0,
        description="Close each client connection gracefully (GOAWAY) after about this long (±10 %), so clients "
        "re-resolve the service name and spread over pods added since; 0 keeps connections open.",
    )
    max_connection_age_grace_seconds: float | None = Field(
        None,
        ge=0,
        description="How long calls in flight on a connection past its age may still run before it is cut; unset: "
        "until they end (model loads take minutes, a WatchJob stream as long as its job).",
    )
