"""Settings of the training service and of the worker processes it starts (``SALESAI_TRAINING_*``; the model
keys ``SALESAI_MODELS_*``). The service hands its settings to each worker, so both always agree."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from models.config import ModelSettings
from services.common.settings import GrpcServiceSettings

#: environment variable a worker reads its settings from (JSON, written by the service; never holds secrets)
WORKER_SETTINGS_ENV = "SALESAI_TRAINING_WORKER_SETTINGS"


class TrainingSettings(GrpcServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SALESAI_TRAINING_", extra="ignore")

    models: ModelSettings = Field(default_factory=ModelSettings, description="Base encoder, device and registry.")
    jobs_dir: Path | None = Field(
        None, description="Folder of job work areas (checkpoints, reports, logs); default <data_dir>/jobs."
    )
    dataset_roots: list[str] = Field(
        default_factory=lambda: ["data", "training/data"],
        description="Folders a job's dataset_path may point into (anything else is refused).",
    )
    max_dataset_bytes: int = Field(200 * 1024 * 1024, ge=1024, description="Largest dataset file accepted.")
    jobs_per_device: int = Field(1, ge=1, le=16, description="Jobs that may run at once on each device.")
    poll_seconds: float = Field(0.5, gt=0, le=10, description="How often the scheduler looks at the queue.")
    resume_on_start: bool = Field(
        True, description="On start, resume jobs whose worker died while the service was down."
    )
    cancel_grace_seconds: float = Field(5.0, ge=0, description="SIGTERM → SIGKILL delay when a job is cancelled.")
    promotion_margin: float = Field(
        0.02, ge=0, le=1, description="Largest test macro-F1 drop below the serving version a job may deploy with."
    )
    inference_url: str = Field(
        "127.0.0.1:50052",
        description="The inference service (shadow and canary deploys): host:port, or dns:///host:port to reach "
        "every replica (round_robin over every address the name resolves to).",
    )
    deploy_timeout_seconds: float = Field(
        300.0, gt=0, description="Deadline for each inference call of a deploy (load evaluates the version)."
    )
    torch_threads: int | None = Field(None, ge=1, description="CPU threads a worker's torch may use.")

    @property
    def resolved_jobs_dir(self) -> Path:
        return self.jobs_dir or self.data_dir / "jobs"

    def for_worker(self) -> str:
        """These settings as JSON for a worker process (secrets are not included: a worker needs none)."""
        secrets = {"master_key": True, "api_key_pepper": True}
        return self.model_dump_json(exclude={**secrets, "models": secrets})
