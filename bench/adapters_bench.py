"""Many adapters on one base model: load N tenant versions of ``intent`` at once, measure memory per adapter,
and throughput with mixed-adapter traffic against single-adapter traffic, in the same run.

Each tenant gets its own version (a copy of the shipped adapter with its LoRA weights perturbed, so every
version really differs); the service's own ``InferenceCore`` serves them (micro-batcher included).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/adapters_bench.py [--adapters 50] [--seconds 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from models.artifacts import ADAPTER_WEIGHTS, MANIFEST  # noqa: E402
from models.config import ModelSettings  # noqa: E402
from models.encoder import BaseEncoder  # noqa: E402
from models.registry import PRETRAINED_DIR  # noqa: E402
from services.inference.config import InferenceSettings  # noqa: E402
from services.inference.core import InferenceCore  # noqa: E402
from training.data import read_examples  # noqa: E402
from training.seed import DATA_DIR  # noqa: E402


def rss_mb() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def make_version(target: Path, version: str, seed: int) -> Path:
    shutil.copytree(PRETRAINED_DIR / "intent", target)
    manifest = json.loads((target / MANIFEST).read_text())
    manifest["version"] = version
    (target / MANIFEST).write_text(json.dumps(manifest))
    weights = load_file(str(target / ADAPTER_WEIGHTS))
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in weights.items():
        if "lora_B" in name:
            weights[name] = tensor * (1 + 0.05 * torch.randn(tensor.shape, generator=generator))
    save_file(weights, str(target / ADAPTER_WEIGHTS))
    return target


def throughput(core: InferenceCore, tenants: list[str], texts: list[str], seconds: float) -> float:
    stop = time.perf_counter() + seconds
    counts = [0] * 8

    def worker(slot: int) -> None:
        rng = random.Random(slot)
        while time.perf_counter() < stop:
            core.classify(rng.choice(tenants), [rng.choice(texts)], ["intent"], explain=False)
            counts[slot] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(worker, range(8)))
    return sum(counts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adapters", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    texts = [e.text for e in read_examples(DATA_DIR / "intent.jsonl") if e.split == "test"]

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        encoder = BaseEncoder(None, device="cpu")
        settings = InferenceSettings(data_dir=data, models=ModelSettings(data_dir=data))
        core = InferenceCore(settings, encoder=encoder)
        core.classify("t0", texts[:8], ["intent"], explain=False)
        baseline = rss_mb()
        tenants = [f"t{i}" for i in range(args.adapters)]
        started = time.perf_counter()
        for i, tenant in enumerate(tenants):
            folder = make_version(data / "staged" / tenant, f"{tenant}-1", seed=i)
            core.registry.register(folder, tenant_id=tenant)
            core.activate("intent", f"{tenant}-1", tenant)
        load_seconds = time.perf_counter() - started
        loaded = rss_mb()
        single = throughput(core, ["t0"], texts, args.seconds)
        mixed = throughput(core, tenants, texts, args.seconds)
        batches = core.batcher.batches
        core.close()

    result = {
        "adapters_loaded": args.adapters,
        "rss_before_mb": round(baseline, 1),
        "rss_after_mb": round(loaded, 1),
        "memory_per_adapter_mb": round((loaded - baseline) / args.adapters, 2),
        "load_and_activate_seconds_per_adapter": round(load_seconds / args.adapters, 3),
        "throughput_single_adapter_msgs_per_s": round(single, 1),
        "throughput_mixed_adapters_msgs_per_s": round(mixed, 1),
        "micro_batches": batches,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
