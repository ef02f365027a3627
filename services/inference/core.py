"""The inference service's logic: loaded task versions, the active version per task (and tenant), and
classification through the micro-batcher. Swapping the active version is one dict assignment; a batch
already running keeps the model objects it started with."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from models.artifacts import TaskModel, load_task_model
from models.encoder import BaseEncoder
from models.registry import ModelRegistry, VersionInfo
from models.runtime import Prediction, classify
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound, SalesAIError
from services.common.storage import Database, upgrade
from services.inference.batcher import MicroBatcher
from services.inference.config import InferenceSettings

log = logging.getLogger("salesai.inference")

Key = tuple[str, str, str]  # tenant, task, version
WARM_UP_TEXTS = ("预算冻结了，报价先暂停吧", "Could you send the price list for 50 seats?")


@dataclass(frozen=True)
class VersionState:
    info: VersionInfo
    state: str  # registered | ready | active | failed
    error: str = ""


class InferenceCore:
    def __init__(
        self, settings: InferenceSettings, *, encoder: BaseEncoder | None = None, db: Database | None = None
    ) -> None:
        self.settings = settings
        models = settings.models
        if models.torch_threads:
            torch.set_num_threads(models.torch_threads)
        self.encoder = encoder or BaseEncoder(
            models.base_model, device=models.device, max_length=models.max_length, adapt_layers=models.adapt_layers
        )
        upgrade(settings.resolved_database_url)
        self.db = db or Database(settings.resolved_database_url)
        self.registry = ModelRegistry(self.db, models.resolved_registry_dir)
        if settings.install_pretrained:
            for info in self.registry.install_pretrained():
                log.info("installed pretrained model", extra={"task": info.task, "version": info.version})
        self._lock = threading.RLock()
        self._loaded: dict[Key, TaskModel] = {}
        self._failed: dict[Key, str] = {}
        self._active: dict[tuple[str, str], str] = {}
        self.batcher = MicroBatcher(
            self._run, max_batch_size=settings.max_batch_size, max_wait_ms=settings.max_batch_wait_ms
        )
        for info in self.registry.list():
            if info.stage == "production":
                try:
                    self.activate(info.task, info.version, info.tenant_id)
                except SalesAIError as error:
                    log.error(
                        "could not activate the production version",
                        extra={"task": info.task, "version": info.version, "error": error.message},
                    )

    # --- classification -------------------------------------------------------------------------------

    def _run(self, key: tuple[tuple[TaskModel, ...], bool], texts: list[str]) -> list[list[Prediction]]:
        models, explain = key
        return classify(self.encoder, models, texts, explain=explain)

    def resolve(self, tenant_id: str, tasks: Sequence[str]) -> tuple[TaskModel, ...]:
        names = list(dict.fromkeys(tasks or self.settings.default_tasks))
        chosen = []
        for name in names:
            version = self._active.get((tenant_id, name))
            owner = tenant_id
            if version is None:
                version, owner = self._active.get(("", name)), ""
            if version is None:
                known = sorted({task for _tenant, task in self._active})
                raise NotFound(f"task {name!r} has no active model; active tasks: {', '.join(known) or 'none'}")
            chosen.append(self._loaded[(owner, name, version)])
        return tuple(chosen)

    def classify(
        self, tenant_id: str, texts: Sequence[str], tasks: Sequence[str] = (), explain: bool = True
    ) -> list[list[Prediction]]:
        if not texts:
            raise InvalidArgument("texts must hold at least one text", field="texts")
        if len(texts) > self.settings.max_texts:
            raise InvalidArgument(f"at most {self.settings.max_texts} texts per call, got {len(texts)}", field="texts")
        for index, text in enumerate(texts):
            if not text.strip():
                raise InvalidArgument(f"texts[{index}] is empty", field="texts")
            if len(text) > self.settings.max_text_chars:
                raise InvalidArgument(
                    f"texts[{index}] is longer than {self.settings.max_text_chars} characters", field="texts"
                )
        models = self.resolve(tenant_id, tasks)
        return self.batcher((models, explain), list(texts))

    def warm_up(self) -> None:
        with self._lock:
            active = list(self._active)
        for tenant_id, _task in active:
            self.classify(tenant_id, WARM_UP_TEXTS, [task for t, task in active if t == tenant_id])

    # --- lifecycle ---------------------------------------------------------------------------------------

    def state(self, info: VersionInfo) -> VersionState:
        key = (info.tenant_id, info.task, info.version)
        if self._active.get((info.tenant_id, info.task)) == info.version:
            return VersionState(info, "active")
        if key in self._loaded:
            return VersionState(info, "ready")
        if key in self._failed:
            return VersionState(info, "failed", self._failed[key])
        return VersionState(info, "registered")

    def list(self, task: str | None = None, tenant_id: str | None = None) -> list[VersionState]:
        return [self.state(info) for info in self.registry.list(task or None, tenant_id)]

    def load(self, task: str, version: str, tenant_id: str = "") -> VersionState:
        """Load a registered version into memory (idempotent). A broken artifact fails here, serving nothing."""
        info = self.registry.get(task, version, tenant_id)
        key = (tenant_id, task, version)
        with self._lock:
            if key not in self._loaded:
                try:
                    model = load_task_model(self.registry.artifact(task, version, tenant_id), self.encoder)
                except SalesAIError as error:
                    self._failed[key] = error.message
                    raise
                self._loaded[key] = model
                self._failed.pop(key, None)
        return self.state(info)

    def activate(self, task: str, version: str, tenant_id: str = "") -> VersionState:
        """Load if needed, then make this version the one that serves ``task`` (atomic switch)."""
        self.load(task, version, tenant_id)
        with self._lock:
            self.registry.set_stage(task, version, "production", tenant_id)
            self._active[(tenant_id, task)] = version
        return self.state(self.registry.get(task, version, tenant_id))

    def unload(self, task: str, version: str, tenant_id: str = "") -> VersionState:
        info = self.registry.get(task, version, tenant_id)
        with self._lock:
            if self._active.get((tenant_id, task)) == version:
                raise FailedPrecondition(f"{task} version {version} is serving; activate another version first")
            self._loaded.pop((tenant_id, task, version), None)
        return self.state(info)

    def close(self) -> None:
        self.batcher.close()
        self.db.dispose()
