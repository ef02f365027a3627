"""Settings of the ingestion service process (``SALESAI_INGESTION_*``, plus the shared ``SALESAI_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.roles import Role
from services.common.settings import GrpcServiceSettings
from services.ingestion.redaction import RedactionConfig


class IngestionSettings(GrpcServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SALESAI_INGESTION_", env_nested_delimiter="__", extra="ignore")

    max_text_bytes: int = Field(64 * 1024, ge=1, description="Largest message text accepted, in UTF-8 bytes.")
    reveal_roles: list[Role] = Field(
        default_factory=lambda: [Role.ADMIN], description="Roles allowed to decrypt raw text (always audited)."
    )
    redaction: RedactionConfig = Field(default_factory=RedactionConfig, description="PII redaction engine.")
