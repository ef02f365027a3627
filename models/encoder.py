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
from typing import Any

import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerBase
from transformers.masking_utils import create_bidirectional_mask

from models.base_encoder import base_model_hash, resolve_base_model
from models.config import ModelSettings
from models.device import resolve_device, resolve_dtype
from models.stacked import StackCache, StackedLayers, stackable
from services.common.errors import InvalidArgument

log = logging.getLogger("salesai.models")


@dataclass
class Batch:
    """Several texts packed into one sequence, with no padding.

    Every text keeps its own positions (0, 1, …) and attends only to itself (a block-diagonal mask), so the
    result is exactly that of running each text alone, while the linear layers — most of the cost — see one
    long matrix instead of many short padded ones.
    """

    input_ids: torch.Tensor  # [1, T]
    position_ids: torch.Tensor  # [1, T]
    starts: list[int]
    lengths: list[int]
    offsets: list[list[tuple[int, int]]]  # per text, per token: character span (CPU lists)
    tokens: list[list[str]]
    mask: torch.Tensor | None  # [1, 1, T, T] bool (True = may attend); None for a single text

    def __len__(self) -> int:
        return len(self.starts)

    def first(self, hidden: torch.Tensor) -> torch.Tensor:
        """Each text's first-token state: [N, H]."""
        return hidden[0, self.starts]

    def mean(self, hidden: torch.Tensor) -> torch.Tensor:
        """Each text's L2-normalised mean token state (E5's sentence embedding): [N, H]."""
        pooled = torch.stack([hidden[0, a : a + n].mean(0) for a, n in zip(self.starts, self.lengths, strict=True)])
        return torch.nn.functional.normalize(pooled, dim=-1)

    def subset(self, rows: list[int], hidden: torch.Tensor) -> tuple[Batch, torch.Tensor]:
        """The texts ``rows`` of this batch (and their states from ``hidden``) as a batch of their own."""
        lengths = [self.lengths[r] for r in rows]
        parts = [hidden[:, self.starts[r] : self.starts[r] + self.lengths[r]] for r in rows]
        ids = [self.input_ids[:, self.starts[r] : self.starts[r] + self.lengths[r]] for r in rows]
        mask = None
        if len(rows) > 1:
            segment = torch.repeat_interleave(torch.arange(len(rows)), torch.tensor(lengths)).to(hidden.device)
            mask = (segment[:, None] == segment[None, :])[None, None]
        batch = Batch(
            input_ids=torch.cat(ids, dim=1),
            position_ids=torch.cat(
                [self.position_ids[:, self.starts[r] : self.starts[r] + n] for r, n in zip(rows, lengths, strict=True)],
                dim=1,
            ),
            starts=[sum(lengths[:k]) for k in range(len(lengths))],
            lengths=lengths,
            offsets=[self.offsets[r] for r in rows],
            tokens=[self.tokens[r] for r in rows],
            mask=mask,
        )
        return batch, torch.cat(parts, dim=1)

    def per_text(self, values: torch.Tensor) -> list[torch.Tensor]:
        """Split a [T, ...] tensor into one slice per text."""
        return [values[a : a + n] for a, n in zip(self.starts, self.lengths, strict=True)]


class SentenceEmbedder(nn.Module):
    """The frozen upper layers as one more member of a classification pass.

    Beside the tasks' own upper layers it turns the same shared states into each text's sentence embedding
    (E5's mean pooling, L2-normalised) — exactly :meth:`BaseEncoder.embed` with no instruction prefix — so a
    message is embedded for the similar-case search without a second pass over its shared layers.
    """

    def __init__(self, layers: Sequence[nn.Module], model_id: str) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)  # the encoder's own modules, not copies
        self.model_id = model_id


class BaseEncoder:
    def __init__(
        self,
        name_or_path: str | None = None,
        *,
        device: str = "auto",
        max_length: int = 128,
        adapt_layers: int = 4,
        quantize: str = "none",
        pack_tokens: int = 512,
        precision: str = "fp32",
    ) -> None:
        self.name = resolve_base_model(name_or_path)
        self.device = resolve_device(device)
        self.max_length = max_length
        self.pack_tokens = max(pack_tokens, max_length)
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
        self.dtype = self._set_precision(precision)
        self.stacks = StackCache(self.config)
        # the shared layers as one stacked computation too: a third of the operations of the library's modules
        # (int8-quantised layers keep their own modules)
        lower_layers = self.layers[: self.split]
        self._lower: StackedLayers | None = (
            StackedLayers([lower_layers], self.config)
            if not self.quantized and stackable(lower_layers, self.config)
            else None
        )
        self._upper_base: StackedLayers | None = None
        self.embedder = SentenceEmbedder(self.layers[self.split :], self.embedding_model)

    @classmethod
    def from_settings(cls, settings: ModelSettings, *, for_training: bool = False) -> BaseEncoder:
        """The encoder the settings describe (training always runs in full precision)."""
        return cls(
            settings.base_model,
            device=settings.device,
            max_length=settings.max_length,
            adapt_layers=settings.adapt_layers,
            quantize="none" if for_training else settings.quantize,
            precision="fp32" if for_training else settings.precision,
        )

    def _set_precision(self, precision: str) -> torch.dtype:
        """Cast the encoder to the serving dtype, keeping a float32 master of the upper layers.

        Tasks merge their LoRA deltas into a copy of that master and only then cast: merging in bfloat16 would
        round every weight twice. int8 quantised layers take float32 activations, so int8 serves in float32.
        """
        self._upper_master: nn.ModuleList | None = None
        try:
            dtype = resolve_dtype(precision, self.device)
        except ValueError as error:
            raise InvalidArgument(str(error)) from None
        if self.quantized and dtype != torch.float32:
            log.info("int8 quantisation serves in float32; precision %s ignored", precision)
            return torch.float32
        if dtype != torch.float32:
            self._upper_master = copy.deepcopy(self.layers[self.split :])
            self.model.to(dtype)
        return dtype

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
    def embedding_model(self) -> str:
        """Identity of this encoder's sentence embeddings: vectors compare only with vectors of the same id."""
        return f"{self.hash[:16]}:mean"

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def upper_indices(self) -> list[int]:
        return list(range(self.split, self.num_layers))

    def tokenize(self, texts: Sequence[str]) -> list[Batch]:
        """Tokenize (truncating to ``max_length``) and pack into batches of at most ``pack_tokens`` tokens."""
        if not texts:
            return []
        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_length, return_offsets_mapping=True)
        packs: list[Batch] = []
        group: list[int] = []
        size = 0
        for index, ids in enumerate(encoded["input_ids"]):
            if group and size + len(ids) > self.pack_tokens:
                packs.append(self._pack(encoded, group))
                group, size = [], 0
            group.append(index)
            size += len(ids)
        if group:
            packs.append(self._pack(encoded, group))
        return packs

    def _pack(self, encoded: Any, indices: list[int]) -> Batch:
        ids = [encoded["input_ids"][i] for i in indices]
        lengths = [len(row) for row in ids]
        starts = [sum(lengths[:k]) for k in range(len(lengths))]
        mask = None
        if len(ids) > 1:
            segment = torch.repeat_interleave(torch.arange(len(ids)), torch.tensor(lengths))
            mask = (segment[:, None] == segment[None, :])[None, None].to(self.device)
        return Batch(
            input_ids=torch.tensor([sum(ids, [])], device=self.device),
            position_ids=torch.tensor([[p for n in lengths for p in range(n)]], device=self.device),
            starts=starts,
            lengths=lengths,
            offsets=[[(int(a), int(b)) for a, b in encoded["offset_mapping"][i]] for i in indices],
            tokens=[self.tokenizer.convert_ids_to_tokens(row) for row in ids],
            mask=mask,
        )

    def layer_mask(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor | None:
        """The mask the encoder layers take (None when nothing is padded: the fast path)."""
        if bool(attention_mask.all()):
            return None
        return create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)

    def lower(self, batch: Batch) -> torch.Tensor:
        """Hidden states after the shared layers, [1, T, H] (no gradient; run once per message for every task).

        ``no_grad`` rather than ``inference_mode``: evidence takes gradients with respect to these states.
        """
        with torch.no_grad():
            hidden = self.model.embeddings(input_ids=batch.input_ids, position_ids=batch.position_ids)
            if self._lower is not None:
                return self._lower(hidden, batch.mask)
            for layer in self.layers[: self.split]:
                hidden = layer(hidden, batch.mask)
        return hidden

    def run_upper(self, layers: nn.ModuleList, hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Run ``layers`` on packed states (``mask``: a Batch's block-diagonal mask)."""
        for layer in layers:
            hidden = layer(hidden, mask)
        return hidden

    def run_upper_padded(
        self, layers: nn.ModuleList, hidden: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """Run ``layers`` on padded states [N, T, H] with a [N, T] padding mask (training)."""
        mask = self.layer_mask(hidden, attention_mask)
        for layer in layers:
            hidden = layer(hidden, mask)
        return hidden

    def stacked(self, models: Sequence[nn.Module]) -> StackedLayers | None:
        """The upper layers of ``models`` (task models, each with ``.layers``) stacked into one computation,
        or None when an architecture is not one :mod:`models.stacked` reproduces."""
        if not models or not all(stackable(m.layers, self.config) for m in models):  # type: ignore[arg-type]
            return None
        return self.stacks.get(models, [m.layers for m in models])  # type: ignore[misc]

    def upper_copy(self) -> nn.ModuleList:
        """A private float32 copy of the upper layers (a task merges its LoRA weights into it, then casts it
        to ``self.dtype``)."""
        return copy.deepcopy(self._upper_master if self._upper_master is not None else self.layers[self.split :])

    def embed(self, texts: Sequence[str], prefix: str = "") -> torch.Tensor:
        """L2-normalised mean-pooled sentence embeddings from the whole (frozen) encoder, as E5 defines them."""
        chunks = []
        upper = self.layers[self.split :]
        if self._upper_base is None and stackable(upper, self.config):
            self._upper_base = StackedLayers([upper], self.config)  # built on first use: most encoders never embed
        for batch in self.tokenize([prefix + t for t in texts]):
            with torch.inference_mode():
                shared = self.lower(batch)
                if self._upper_base is not None:
                    hidden = self._upper_base(shared, batch.mask)
                else:
                    hidden = self.run_upper(upper, shared, batch.mask)
                chunks.append(batch.mean(hidden).float().cpu())
        return torch.cat(chunks) if chunks else torch.empty(0, self.config.hidden_size)
