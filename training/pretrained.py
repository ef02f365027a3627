"""Train the adapters salesai ships for its default tasks (``models/pretrained/<task>``), from the seed data.

``python -m training.pretrained [--task intent] [--epochs N]`` — deterministic for a given seed on a given
machine. The inference service registers these folders as the global production versions on first start when a
task has no version yet; retrained versions replace them through the registry, never by editing this folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

from models.config import ModelSettings
from models.encoder import BaseEncoder
from models.registry import PRETRAINED_DIR
from models.tasks import default_tasks
from training.data import read_examples
from training.lora import TrainConfig, train_lora
from training.seed import DATA_DIR

log = logging.getLogger("salesai.training")


def train_default(task: str, encoder: BaseEncoder, config: TrainConfig, out_root: Path = PRETRAINED_DIR) -> Path:
    spec = default_tasks()[task]
    examples = read_examples(DATA_DIR / f"{task}.jsonl")
    staging = out_root / f".{task}-staging"
    shutil.rmtree(staging, ignore_errors=True)
    artifact = train_lora(encoder, spec, examples, staging, version="pretrained-1", config=config)
    target = out_root / task
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    log.info("%s: %s", task, json.dumps({k: round(v, 4) for k, v in artifact.metrics.items()}))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", action="append", choices=sorted(default_tasks()), help="default: every task")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = ModelSettings()
    encoder = BaseEncoder.from_settings(settings, for_training=True)
    for task in arguments.task or sorted(default_tasks()):
        train_default(task, encoder, TrainConfig(epochs=arguments.epochs))


if __name__ == "__main__":
    main()
