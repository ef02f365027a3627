"""Settings of the ML library, read once by every process that loads models (``SALESAI_MODELS_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class ModelSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="SALESAI_MODELS_", extra="ignore", populate_by_name=True)

    base_model: str | None = Field(
        None,
        description="Base encoder: a local folder or a Hugging Face id (e.g. intfloat/multilingual-e5-small). "
        "Default: the folder `salesai models bootstrap` builds (build/models/multilingual-e5-small).",
    )
    device: str = Field("auto", description="auto (CUDA when present, else CPU), cpu, cuda or cuda:N.")
    max_length: int = Field(128, ge=8, le=512, description="Tokens per message; longer messages are truncated.")
    adapt_layers: int = Field(
        4,
        ge=1,
        le=24,
        description="Upper encoder layers a task adapts (LoRA); the layers below are shared by all tasks.",
    )
    quantize: str = Field(
        "none",
        pattern="^(none|int8)$",
        description="int8: dynamic int8 quantisation of the shared lower layers on CPU (see bench/classify_bench.py).",
    )
    precision: str = Field(
        "auto",
        pattern="^(auto|fp32|bf16)$",
        description="Serving precision. auto: bfloat16 where the hardware multiplies it natively (CPUs with "
        "AVX512-BF16 or AMX, GPUs from Ampere on), else float32. Training always runs in float32.",
    )
    torch_threads: int | None = Field(None, ge=1, description="CPU threads for torch; default: torch's own choice.")
    registry_dir: Path | None = Field(
        None, description="Folder of registered model versions; default <data_dir>/models."
    )

    @property
    def resolved_registry_dir(self) -> Path:
        return self.registry_dir or self.data_dir / "models"
