"""Settings of the leads service process (``SALESAI_LEADS_*``, the model keys ``SALESAI_MODELS_*``, plus the shared
``SALESAI_*``). Channels and Qdrant are nested: ``SALESAI_LEADS_CHANNELS='[{"name": ..., "kind": "slack", ...}]'``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from models.config import ModelSettings
from services.common.settings import GrpcServiceSettings
from services.ingestion.redaction import RedactionConfig
from services.suggestions.channels import ChannelConfig
from services.suggestions.delivery import RetryPolicy
from services.suggestions.playbook import DEFAULT_PLAYBOOK


class LeadsSettings(GrpcServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SALESAI_LEADS_", env_nested_delimiter="__", extra="ignore")

    scoring_model: str = Field("default", description="Name of the scoring model (`salesai scoring train --name`).")
    scoring_dir: Path | None = Field(None, description="Scoring model registry folder; default <data_dir>/scoring.")
    window_days: float = Field(30.0, ge=1, le=365, description="Window of the count signals (as in training).")
    history_limit: int = Field(50, ge=1, le=1000, description="Latest messages of a lead the rules and signals see.")
    playbook: Path | None = Field(None, description="Playbook YAML (situations → actions); default: the shipped one.")
    min_confidence: float = Field(0.0, ge=0, le=1, description="Suggestions below this confidence are dropped.")
    similar: bool = Field(True, description="Similar won situations as evidence (loads the base encoder).")
    qdrant_url: str | None = Field(None, description="Qdrant server URL; unset = embedded Qdrant in qdrant_path.")
    qdrant_api_key: SecretStr | None = Field(None, description="API key of the Qdrant server, if it needs one.")
    qdrant_path: Path | None = Field(None, description="Embedded Qdrant folder; default <data_dir>/qdrant.")
    models: ModelSettings = Field(default_factory=ModelSettings, description="Base encoder for the embeddings.")
    channels: list[ChannelConfig] = Field(default_factory=list, description="Chat tools suggestions are pushed to.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="Delivery retries with backoff.")
    scan_interval_s: float = Field(
        300.0, ge=1, description="Stale-lead scan and re-delivery sweep period (runs only when channels are set)."
    )
    scan_max_leads: int = Field(1000, ge=1, description="Most open leads one scan evaluates.")
    redaction: RedactionConfig = Field(
        default_factory=lambda: RedactionConfig(use_spacy=False),
        description="Redaction of reps' edited drafts before they are stored.",
    )

    @property
    def resolved_scoring_dir(self) -> Path:
        return self.scoring_dir or self.data_dir / "scoring"

    @property
    def resolved_playbook(self) -> Path:
        return self.playbook or DEFAULT_PLAYBOOK

    @property
    def resolved_qdrant_path(self) -> Path:
        return self.qdrant_path or self.data_dir / "qdrant"
