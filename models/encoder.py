"""The base encoder, split in two so several tasks share one pass over a message.

The lower ``num_layers - adapt_layers`` layers are frozen and shared: they run once per message whatever the
number of tasks. Each task owns a copy of the upper ``adapt_layers`` layers (with its LoRA weights merged in)
and a classification head. N tasks cost ``lower + N * upper`` layers instead of ``N * all``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerBase
from transformers.masking_utils import create_bidirectional_mask

from models.base_encoder import base_model_hash, resolve_base_model
from models.config import ModelSettings
from models.device import resolve_device
from services.common.errors import InvalidArgument

log = logging.getLogger("salesai.models")


@dataclass
class Batch:
    """Tokenized texts: ids and mask on the device, character offsets of every token (CPU lists)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    offsets: list[list[tuple[int, int]]]
    tokens: list[list[str]]


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """L2-normalised mean of the token states: E5's sentence embedding."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
    return torch.nn.functional.normalize(pooled, dim=-1)


class BaseEncoder:
    def __init__(
        self,
        name_or_path: str | None = None,
        *,
        device: str = "auto",
        max_length: int = 128,
        adapt_layers: int = 4,
        quantize: str = "none",
    ) -> None:
        self.name = resolve_base_model(name_or_path)
        self.device = resolve_device(device)
        self.max_length = max_length
        self.tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(self.name)
        model = AutoModel.from_pretrained(self.name, add_pooling_layer=False)
        model.eval().requires_grad_(False).to(self.device)
        self.model = model
        self.config = model.config
        self.layers: nn.ModuleList = model.encoder.layer
        if not 1 <= adapt_layers < len(self.layers):
            raise InvalidArgument(f"adapt_layers must be in 1..{len(self.layers) - 1}, got {adapt_layers}")
        self.adapt_layers = adapt_layers
        self.split = len(self.layers) - adapt_layers
        self.hash = base_model_hash(self.name)
        self.quantized = self._quantize_lower(quantize)

    @classmethod
    def from_settings(cls, settings: ModelSettings, *, for_training: bool = False) -> BaseEncoder:
        """The encoder the settings describe (training always runs in full precision)."""
        return cls(
            settings.base_model,
            device=settings.device,
            max_length=settings.max_length,
            adapt_layers=settings.adapt_layers,
            quantize="none" if for_training else settings.quantize,
        )

    def _quantize_lower(self, quantize: str) -> bool:
        """int8 dynamic quantisation of the shared lower layers' linear maps (CPU only).

        Only the lower layers: evidence takes gradients through the upper ones, which quantised ops lack.
        """
        if quantize == "none":
            return False
        if quantize != "int8":
            raise InvalidArgument(f"quantize must be none or int8, got {quantize!r}")
        if self.device.type != "cpu":
            log.warning("int8 quantisation is for CPU; serving in full precision on %s", self.device)
            return False
        from torch.ao.quantization import quantize_dynamic

        for index in range(self.split):
            self.layers[index] = quantize_dynamic(self.layers[index], {nn.Linear}, dtype=torch.qint8)
        return True

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def upper_indices(self) -> list[int]:
        return list(range(self.split, self.num_layers))

    def tokenize(self, texts: Sequence[str]) -> Batch:
        encoded = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_offsets_mapping=True,
            return_tensors="pt",
        )
        offsets = [[(int(a), int(b)) for a, b in row] for row in encoded.pop("offset_mapping").tolist()]
        tokens = [self.tokenizer.convert_ids_to_tokens(row) for row in encoded["input_ids"].tolist()]
        return Batch(
            input_ids=encoded["input_ids"].to(self.device),
            attention_mask=encoded["attention_mask"].to(self.device),
            offsets=offsets,
            tokens=tokens,
        )

    def layer_mask(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor | None:
        """The mask the encoder layers take (None when nothing is padded: the fast path)."""
        if bool(attention_mask.all()):
            return None
        return create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)

    def lower(self, batch: Batch) -> torch.Tensor:
        """Hidden states after the shared layers (no gradient; run once per message for every task).

        ``no_grad`` rather than ``inference_mode``: evidence takes gradients with respect to these states.
        """
        with torch.no_grad():
            hidden = self.model.embeddings(input_ids=batch.input_ids)
            mask = self.layer_mask(hidden, batch.attention_mask)
            for layer in self.layers[: self.split]:
                hidden = layer(hidden, mask)
        return hidden

    def run_upper(self, layers: nn.ModuleList, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = self.layer_mask(hidden, attention_mask)
        for layer in layers:
            hidden = layer(hidden, mask)
        return hidden

    def upper_copy(self) -> nn.ModuleList:
        """A private copy of the upper layers (a task merges its LoRA weights into it)."""
        return copy.deepcopy(self.layers[self.split :])

    def embed(self, texts: Sequence[str], prefix: str = "query: ", batch_size: int = 64) -> torch.Tensor:
        """L2-normalised mean-pooled sentence embeddings from the whole (frozen) encoder, as E5 defines them."""
        chunks = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenize([prefix + t for t in texts[start : start + batch_size]])
            with torch.inference_mode():
                hidden = self.run_upper(self.layers[self.split :], self.lower(batch), batch.attention_mask)
                chunks.append(mean_pool(hidden, batch.attention_mask).cpu())
        return torch.cat(chunks) if chunks else torch.empty(0, self.config.hidden_size)
