"""The scale-out path: `salesai train` under `torchrun --nproc_per_node=2` on CPU (gloo) trains with DDP, only
rank 0 writes, and the version folder it leaves is a valid artifact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.artifacts import read_artifact
from tests.conftest import small_examples
from training.data import write_examples


@pytest.mark.timeout(600)
def test_torchrun_two_cpu_processes_train_one_valid_version(tmp_path: Path, base_model_dir: Path) -> None:
    data = tmp_path / "small.jsonl"
    write_examples(data, small_examples(per_label=12, test_per_label=4))
    out = tmp_path / "version"
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "SALESAI_DATA_DIR": str(tmp_path / "data"),
        "SALESAI_MODELS_BASE_MODEL": str(base_model_dir),
        "SALESAI_MODELS_DEVICE": "cpu",
        "SALESAI_MODELS_MAX_LENGTH": "64",
        "SALESAI_MODELS_TORCH_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    command = [
        str(bin_dir / "torchrun"), "--standalone", "--nproc_per_node=2", "--no-python", str(bin_dir / "salesai"),
        "train", "--task", "small_intent", "--data", str(data), "--epochs", "2", "--batch-size", "8",
        "--no-register", "--out", str(out),
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=540)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(printed) == 1, result.stdout  # rank 0 reports; rank 1 writes nothing
    artifact = read_artifact(out)
    assert artifact.training["world_size"] == 2 and len(artifact.training["history"]) == 2
    assert artifact.task.name == "small_intent" and 0.0 <= artifact.metrics["macro_f1"] <= 1.0
    assert (out / "adapter_model.safetensors").is_file() and (out / "report" / "metrics.json").is_file()
    assert not list((tmp_path / "data").rglob("*.safetensors"))  # no registry writes with --no-register
