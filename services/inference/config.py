"""Settings of the inference service process (``SALESAI_INFERENCE_*``, the model keys ``SALESAI_MODELS_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from models.config import ModelSettings
from services.common.settings import GrpcServiceSettings


class InferenceSettings(GrpcServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SALESAI_INFERENCE_", extra="ignore")

    models: ModelSettings = Field(default_factory=ModelSettings, description="Base encoder, device and registry.")
    default_tasks: list[str] = Field(
        default_factory=lambda: ["intent", "risk"], description="Tasks a Classify call without tasks runs."
    )
    max_texts: int = Field(64, ge=1, description="Most texts in one Classify call.")
    max_text_chars: int = Field(20_000, ge=1, description="Longest text accepted (characters; tokens are truncated).")
    max_batch_size: int = Field(32, ge=1, description="Most texts the micro-batcher runs in one forward pass.")
    max_batch_wait_ms: float = Field(
        2.0,
        ge=0,
        description="How long the micro-batcher waits for concurrent calls to join a batch — only while calls "
        "overlap (one arrived during the last pass); a call that finds the worker idle runs at once.",
    )
    promotion_margin: float = Field(
        0.02, ge=0, le=1, description="Largest test macro-F1 drop a promotion may bring without --force."
    )
    evaluation_chunk: int = Field(
        8, ge=1, le=256, description="Texts per micro-batch when a version is evaluated beside live traffic."
    )
    trim_idle_ms: float = Field(
        50.0,
        ge=0,
        description="After this long with nothing queued, the batcher gives free heap pages back to the OS "
        "(glibc malloc_trim), at most once per trim_interval_s. 0 = never.",
    )
    trim_interval_s: float = Field(1.0, ge=0, description="Least time between two heap trims.")
    kernel_cache_capacity: int | None = Field(
        64,
        ge=1,
        description="Input shapes oneDNN keeps compiled kernels for (LRU_CACHE_CAPACITY; bfloat16/int8 on CPU). "
        "Each message length is a new shape, so the library's 1024 grows memory by hundreds of MB. "
        "None: the library's default. An LRU_CACHE_CAPACITY already in the environment wins.",
    )
    route_sync_seconds: float = Field(
        2.0,
        ge=0,
        description="How often each replica reads the saved model routes (stable, canary, shadow, rollback target) "
        "and converges to them: loads what it lacks, swaps the route in, unloads what no route uses. Lifecycle "
        "calls read them first as well. 0 = only at start-up and before lifecycle calls.",
    )
    route_sync_retry_seconds: float = Field(
        30.0,
        ge=0,
        description="How long a replica waits before it loads again a version that failed to load while it "
        "followed a saved route (a lifecycle call that needs the version always tries).",
    )
    lifecycle_lock_seconds: float = Field(
        120.0,
        gt=0,
        description="How long a lifecycle write (activate, traffic, promote, rollback, unload) waits while another "
        "replica changes the same task's route (writes to one task run one at a time across replicas); past it the "
        "call fails UNAVAILABLE and changes nothing.",
    )
    install_pretrained: bool = Field(
        True, description="Register the shipped intent/risk adapters on start when a task has no version."
    )
