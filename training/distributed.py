"""Multi-process training under ``torchrun``: DistributedDataParallel over the trainable parameters (gloo on CPU,
nccl on GPU). Every rank trains on its share of each batch; gradients are averaged, so the ranks stay identical;
only rank 0 writes (checkpoints, the version folder, the registry). Without ``torchrun`` nothing changes.

    torchrun --nproc_per_node=2 --no-python salesai train --task intent --data training/data/intent.jsonl
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def writer(self) -> bool:
        """Only rank 0 writes files and registry rows."""
        return self.rank == 0

    def shard(self, index: list[int]) -> list[int]:
        """This rank's part of a batch (every rank gets at least one row, so all of them step together)."""
        return index[self.rank :: self.size] or index[:1]

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def world() -> World:
    """The process group ``torchrun`` describes in the environment, joined once; a single process otherwise."""
    if not dist.is_available() or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return World()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return World(dist.get_rank(), dist.get_world_size())


def local_device(default: str) -> str:
    """Under torchrun on GPUs each rank takes its own (``cuda:LOCAL_RANK``); otherwise ``default``."""
    if "LOCAL_RANK" in os.environ and torch.cuda.is_available() and default in ("auto", "cuda"):
        return f"cuda:{int(os.environ['LOCAL_RANK'])}"
    return default
