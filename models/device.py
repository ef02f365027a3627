"""Pick the torch device (CUDA when present, CPU otherwise: what CI proves) and the serving precision."""

from __future__ import annotations

import logging

import torch

log = logging.getLogger("salesai.models")

PRECISIONS = ("auto", "fp32", "bf16")


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for but no CUDA GPU is available; use 'auto' or 'cpu'")
    return device


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware (CPU: AVX512-BF16 or AMX; GPU: Ampere on).

    Without it bfloat16 is emulated and slower than float32, so ``auto`` stays in float32.
    """
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    capabilities = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The dtype weights and activations are served in.

    ``bf16`` keeps float32's range with an 8-bit mantissa: on hardware with native bfloat16 GEMM the encoder
    runs intent + risk about twice as fast as float32 on short messages (bench/classify_bench.py: 14.4 vs
    27.7 ms p50), for a macro-F1 change within ±0.5 point on the shipped tasks (the same script measures it).
    ``auto`` picks it only where the hardware has it.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        if not native_bf16(device):
            log.warning("bfloat16 was asked for but %s has no native bfloat16 GEMM: it will be emulated (slow)", device)
        return torch.bfloat16
    return torch.bfloat16 if native_bf16(device) else torch.float32
