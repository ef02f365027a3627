"""The inference service's logic: loaded task versions, traffic routes per task (and tenant), classification
through the micro-batcher, and the hot-swap lifecycle.

Lifecycle of a version: registered → load (compatibility check, smoke evaluation on its test split, warm-up)
→ ready → canary / shadow / stable → drained and unloaded. A route is an immutable value swapped in one
assignment, so a request sees either the old route or the new one, never a mix; a batch already running keeps
the model objects it started with, and unloading waits for those batches to finish (drain).

Routing of one request for one task: the tenant's own route if it has a stable version, else the global one.
A canary takes ``canary_percent`` of conversations (sticky: the same conversation always lands on the same
side); canary requests also run the stable version to measure agreement. A shadow version runs on live
traffic in the background; its answers are compared and recorded, never returned.

Replicas: the saved routes (:mod:`services.inference.routes`) are the source of truth. A lifecycle call saves
the route it makes; every replica converges to the saved routes (:meth:`InferenceCore.sync`) every
``route_sync_seconds``, and before it answers or performs a lifecycle call. Classification never reads the
database.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import torch
from prometheus_client import Counter, Gauge, Histogram
from sklearn.metrics import f1_score

from models.artifacts import TaskModel, load_task_model
from models.encoder import BaseEncoder
from models.registry import ModelRegistry, VersionInfo
from models.runtime import Embedding, Member, Output, Prediction, classify_many
from services.common import memory
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound, SalesAIError, Unavailable
from services.common.storage import Database, upgrade
from services.common.storage.lock import exclusive
from services.common.storage.models import AuditEvent
from services.inference.batcher import BACKGROUND, MicroBatcher
from services.inference.config import InferenceSettings
from services.inference.routes import Key, Route, RouteKey, activated, save_route, saved_routes

log = logging.getLogger("salesai.inference")

WARM_UP_TEXTS = ("预算冻结了，报价先暂停吧", "Could you send the price list for 50 seats?")
TEST_SPLIT = Path("report") / "test.jsonl"

PREDICTIONS = Counter(
    "salesai_inference_predictions_total", "Predictions returned or compared", ["task", "version", "route"]
)
BATCH_SECONDS = Histogram(
    "salesai_inference_batch_seconds",
    "Wall time of one micro-batch",
    buckets=(0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
CONFIDENCE = Histogram(
    "salesai_inference_confidence",
    "Confidence of returned predictions",
    ["task", "version"],
    buckets=(0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
)
AGREEMENT = Gauge(
    "salesai_inference_agreement_ratio", "Share of live messages where two versions agree", ["task", "version", "kind"]
)
SHADOW_DROPPED = Counter("salesai_inference_shadow_dropped_total", "Shadow comparisons skipped under load", ["task"])
SYNC_FAILURES = Counter(
    "salesai_model_sync_failures_total", "Versions this replica failed to load to follow a saved route", ["task"]
)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Agreement:
    compared: int = 0
    agreed: int = 0

    @property
    def rate(self) -> float:
        return self.agreed / self.compared if self.compared else 0.0


@dataclass(frozen=True)
class VersionState:
    info: VersionInfo
    state: str  # registered | ready | active | canary | shadow | failed
    error: str = ""
    smoke_macro_f1: float | None = None


@dataclass(frozen=True)
class TrafficState:
    tenant_id: str
    task: str
    route: Route
    canary_agreement: Agreement = field(default_factory=Agreement)
    shadow_agreement: Agreement = field(default_factory=Agreement)


@dataclass(frozen=True)
class GateResult:
    passed: bool
    forced: bool
    candidate_macro_f1: float
    serving_macro_f1: float
    margin: float
    test_examples: int
    detail: str


@dataclass(frozen=True)
class _Plan:
    """What one Classify call runs: the served model per task, plus the stable model beside a canary."""

    served: tuple[TaskModel, ...]
    routes: tuple[str, ...]  # stable | canary, per task
    compare: tuple[TaskModel | None, ...]
    shadow: tuple[TaskModel | None, ...]


def _bucket(task: str, sticky: str) -> float:
    digest = hashlib.sha256(f"{task}\x00{sticky}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 * 100


class _StillFailing(FailedPrecondition):
    """A version that failed to load recently: not tried again before ``route_sync_retry_seconds``."""


def _reconciled(method: Callable[Concatenate[InferenceCore, P], R]) -> Callable[Concatenate[InferenceCore, P], R]:
    """A lifecycle call that acts on (and answers with) the latest saved state: this replica converges first,
    once per outermost call, and the periodic sync waits until the call has returned."""

    @functools.wraps(method)
    def wrapper(self: InferenceCore, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._sync_lock:
            if self._sync_depth == 0:
                self._reconcile()
            self._sync_depth += 1
            try:
                return method(self, *args, **kwargs)
            finally:
                self._sync_depth -= 1

    return wrapper


def route_lock_name(tenant_id: str, task: str) -> str:
    """The cross-replica lock a lifecycle write to this route holds (:func:`services.common.storage.lock.exclusive`)."""
    return f"inference.route:{tenant_id}:{task}"


def _serialised(method: Callable[Concatenate[InferenceCore, P], R]) -> Callable[Concatenate[InferenceCore, P], R]:
    """A lifecycle write: one at a time per (tenant, task) across every replica — the database's lock, taken before
    this replica converges — so two writes made at the same moment on two pods apply one after the other, the
    second on the first's result (no lost update). A write nested in another (promote → activate) holds it already.
    The write is also :func:`_reconciled`, inside the lock: it converges only once no other replica is writing."""
    signature = inspect.signature(method)
    method = _reconciled(method)

    @functools.wraps(method)
    def wrapper(self: InferenceCore, *args: P.args, **kwargs: P.kwargs) -> R:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        task, tenant_id = str(bound.arguments["task"]), str(bound.arguments.get("tenant_id") or "")
        name = route_lock_name(tenant_id, task)
        held: set[str] = self._held_locks.__dict__.setdefault("names", set())
        if name in held:
            return method(self, *args, **kwargs)
        with exclusive(self.db, name, timeout=self.settings.lifecycle_lock_seconds) as got:
            if not got:
                raise Unavailable(
                    f"another replica is changing the route of {task!r}; nothing was changed here, try again"
                )
            held.add(name)
            try:
                return method(self, *args, **kwargs)
            finally:
                held.discard(name)

    return wrapper


class InferenceCore:
    def __init__(
        self, settings: InferenceSettings, *, encoder: BaseEncoder | None = None, db: Database | None = None
    ) -> None:
        self.settings = settings
        models = settings.models
        if models.torch_threads:
            torch.set_num_threads(models.torch_threads)
        self.encoder = encoder or BaseEncoder.from_settings(models)
        upgrade(settings.resolved_database_url)
        self.db = db or Database(settings.resolved_database_url)
        self.registry = ModelRegistry(self.db, models.resolved_registry_dir)
        if settings.install_pretrained:
            for info in self.registry.install_pretrained():
                log.info("installed pretrained model", extra={"task": info.task, "version": info.version})
        self._lock = threading.RLock()
        self._loaded: dict[Key, TaskModel] = {}
        self._failed: dict[Key, str] = {}
        self._smoke: dict[Key, float] = {}
        self._scores: dict[tuple[Key, str], float] = {}
        self._routes: dict[RouteKey, Route] = {}
        self._agreement: dict[tuple[RouteKey, str, str], Agreement] = defaultdict(Agreement)
        self._inflight: dict[Key, int] = defaultdict(int)
        self._drained = threading.Condition(self._lock)
        self._shadow_pool = ThreadPoolExecutor(1, thread_name_prefix="shadow")
        self._shadow_pending = 0
        self.batcher = MicroBatcher(
            self._run,
            max_batch_size=settings.max_batch_size,
            max_wait_ms=settings.max_batch_wait_ms,
            on_idle=memory.trim if settings.trim_idle_ms else None,  # free heap pages back to the OS
            idle_after_ms=settings.trim_idle_ms,
            idle_interval_s=settings.trim_interval_s,
        )
        self._pinned: set[Key] = set()  # loaded by LoadModel and not routed yet: kept until a route uses it
        self._retry_at: dict[Key, float] = {}
        self._saved: dict[RouteKey, Route] = {}  # the database's routes at the last sync
        self._sync_lock = threading.RLock()  # one sync or lifecycle call at a time on this replica
        self._held_locks = threading.local()  # names of the cross-replica locks this thread holds (``_serialised``)
        self._sync_depth = 0
        self._stopped = threading.Event()
        self.sync()  # start-up: serve what the database says
        self._sync_thread: threading.Thread | None = None
        if settings.route_sync_seconds > 0:
            self._sync_thread = threading.Thread(target=self._sync_forever, name="route-sync", daemon=True)
            self._sync_thread.start()

    # --- classification -------------------------------------------------------------------------------

    def _run(self, explain: bool, requests: list[tuple[tuple[Member, ...], list[str]]]) -> list[list[list[Output]]]:
        """One micro-batch: requests that may each use different versions share the lower layers."""
        keys = [m.key for models, _ in requests for m in models if isinstance(m, TaskModel)]
        with self._lock:
            for k in keys:
                self._inflight[k] += 1
        started = time.perf_counter()
        try:
            return classify_many(self.encoder, requests, explain=explain)
        finally:
            BATCH_SECONDS.observe(time.perf_counter() - started)
            with self._lock:
                for k in keys:
                    self._inflight[k] -= 1
                self._drained.notify_all()

    def _route_of(self, tenant_id: str, task: str) -> tuple[RouteKey, Route]:
        own = self._routes.get((tenant_id, task))
        if own is not None and own.stable is not None:
            return (tenant_id, task), own
        shared = self._routes.get(("", task))
        if shared is not None and shared.stable is not None:
            return ("", task), shared
        known = sorted({t for (tenant, t), r in self._routes.items() if r.stable and tenant in ("", tenant_id)})
        raise NotFound(f"task {task!r} has no active model; active tasks: {', '.join(known) or 'none'}")

    def plan(self, tenant_id: str, tasks: Sequence[str], sticky: str) -> _Plan:
        names = list(dict.fromkeys(tasks or self.settings.default_tasks))
        served: list[TaskModel] = []
        routes: list[str] = []
        compare: list[TaskModel | None] = []
        shadow: list[TaskModel | None] = []
        with self._lock:
            for name in names:
                (owner, _), route = self._route_of(tenant_id, name)
                stable = self._loaded[(owner, name, route.stable or "")]
                on_canary = route.canary is not None and _bucket(name, sticky) < route.canary_percent
                if on_canary:
                    served.append(self._loaded[(owner, name, route.canary or "")])
                    routes.append("canary")
                    compare.append(stable)
                else:
                    served.append(stable)
                    routes.append("stable")
                    compare.append(None)
                shadow.append(self._loaded.get((owner, name, route.shadow)) if route.shadow else None)
        return _Plan(tuple(served), tuple(routes), tuple(compare), tuple(shadow))

    def classify(
        self,
        tenant_id: str,
        texts: Sequence[str],
        tasks: Sequence[str] = (),
        explain: bool = True,
        conversation_id: str = "",
    ) -> list[list[Prediction]]:
        """Per text, one prediction per task."""
        return self.classify_and_embed(tenant_id, texts, tasks, explain, conversation_id, embed=False)[0]

    def classify_and_embed(
        self,
        tenant_id: str,
        texts: Sequence[str],
        tasks: Sequence[str] = (),
        explain: bool = True,
        conversation_id: str = "",
        *,
        embed: bool = True,
    ) -> tuple[list[list[Prediction]], list[Embedding]]:
        """Per text, one prediction per task and (``embed``) its sentence embedding from the same pass."""
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
        plan = self.plan(tenant_id, tasks, conversation_id or texts[0])
        extra = tuple(m for m in plan.compare if m is not None)
        embedder = (self.encoder.embedder,) if embed else ()
        results = self.batcher(explain, list(texts), payload=plan.served + extra + embedder)
        served: list[list[Prediction]] = [row[: len(plan.served)] for row in results]  # type: ignore[misc]
        embeddings: list[Embedding] = [row[-1] for row in results] if embed else []  # type: ignore[misc]
        for i, (model, route) in enumerate(zip(plan.served, plan.routes, strict=True)):
            version = model.artifact.version
            PREDICTIONS.labels(model.task.name, version, route).inc(len(texts))
            for row in served:
                CONFIDENCE.labels(model.task.name, version).observe(row[i].confidence)
        if extra:
            position = len(plan.served)
            for i, stable in enumerate(plan.compare):
                if stable is None:
                    continue
                self._agree(plan.served[i], "canary", [row[i].label for row in served], [r[position] for r in results])
                position += 1
        if any(plan.shadow):
            self._submit_shadow(plan, texts, [[p.label for p in row] for row in served])
        return served, embeddings

    def _agree(self, candidate: TaskModel, kind: str, labels: list[str], reference: Sequence[Prediction]) -> None:
        owner, task, version = candidate.key
        with self._lock:
            counter = self._agreement[((owner, task), kind, version)]
            counter.compared += len(labels)
            counter.agreed += sum(a == b.label for a, b in zip(labels, reference, strict=True))
            AGREEMENT.labels(task, version, kind).set(counter.rate)

    def _submit_shadow(self, plan: _Plan, texts: Sequence[str], served: list[list[str]]) -> None:
        with self._lock:
            if self._shadow_pending >= 4:  # never let shadow work pile up behind live traffic
                for model in plan.shadow:
                    if model is not None:
                        SHADOW_DROPPED.labels(model.task.name).inc()
                return
            self._shadow_pending += 1

        def run() -> None:
            try:
                for i, model in enumerate(plan.shadow):
                    if model is None:
                        continue
                    got = self.batcher(False, list(texts), priority=BACKGROUND, payload=(model,))
                    PREDICTIONS.labels(model.task.name, model.artifact.version, "shadow").inc(len(texts))
                    self._agree(model, "shadow", [row[i] for row in served], [row[0] for row in got])
            except SalesAIError:
                log.warning("shadow comparison failed")
            finally:
                with self._lock:
                    self._shadow_pending -= 1

        self._shadow_pool.submit(run)

    def warm_up(self) -> None:
        with self._lock:
            routes = [key for key, route in self._routes.items() if route.stable]
        for tenant_id, task in routes:
            self.classify(tenant_id, WARM_UP_TEXTS, [task])

    # --- lifecycle ---------------------------------------------------------------------------------------

    def state(self, info: VersionInfo) -> VersionState:
        key = (info.tenant_id, info.task, info.version)
        route = self._routes.get((info.tenant_id, info.task), Route())
        smoke = self._smoke.get(key)
        if route.stable == info.version:
            return VersionState(info, "active", smoke_macro_f1=smoke)
        if route.canary == info.version:
            return VersionState(info, "canary", smoke_macro_f1=smoke)
        if route.shadow == info.version:
            return VersionState(info, "shadow", smoke_macro_f1=smoke)
        if key in self._loaded:
            return VersionState(info, "ready", smoke_macro_f1=smoke)
        if key in self._failed:
            return VersionState(info, "failed", self._failed[key])
        return VersionState(info, "registered")

    @_reconciled
    def versions(self, task: str | None = None, tenant_id: str | None = None) -> list[VersionState]:
        return [self.state(info) for info in self.registry.versions(task or None, tenant_id)]

    @_reconciled
    def load(self, task: str, version: str, tenant_id: str = "", actor: str = "") -> VersionState:
        """Load a registered version (idempotent): compatibility check, smoke evaluation, warm-up.

        A broken artifact fails here, with the reason kept in the version's state; nothing that serves changes.
        The version stays loaded on this replica until a route has used it and no longer does, or UnloadModel.
        """
        state = self._load(task, version, tenant_id, actor)
        with self._lock:
            if (tenant_id, task, version) in self._loaded:
                self._pinned.add((tenant_id, task, version))
        return state

    def _load(self, task: str, version: str, tenant_id: str, actor: str) -> VersionState:
        info = self.registry.get(task, version, tenant_id)
        with self._lock:
            if (tenant_id, task, version) in self._loaded:
                return self.state(info)
        try:
            self._ensure_loaded(tenant_id, task, version)
        except SalesAIError as error:
            self._audit(tenant_id, actor, "model.load", f"{task}/{version}", "failed", error.message)
            raise
        self._audit(tenant_id, actor, "model.load", f"{task}/{version}")
        return self.state(info)

    def _ensure_loaded(self, tenant_id: str, task: str, version: str, *, retry: bool = True) -> TaskModel:
        """The loaded version, loading and smoke-testing it first if needed. A failure is kept in the version's
        state; ``retry=False`` (following a saved route) does not try again before the retry delay."""
        key = (tenant_id, task, version)
        with self._lock:
            if key in self._loaded:
                return self._loaded[key]
            if not retry and key in self._failed and time.monotonic() < self._retry_at.get(key, 0.0):
                raise _StillFailing(self._failed[key])
        try:
            model = load_task_model(self.registry.artifact(task, version, tenant_id), self.encoder)
            model.key = key
            smoke = self._smoke_test(model)
        except SalesAIError as error:
            with self._lock:
                self._failed[key] = error.message
                self._retry_at[key] = time.monotonic() + self.settings.route_sync_retry_seconds
            raise
        with self._lock:
            model = self._loaded.setdefault(key, model)
            self._failed.pop(key, None)
            self._retry_at.pop(key, None)
            if smoke is not None:
                self._smoke[key] = smoke
        return model

    def _smoke_test(self, model: TaskModel, limit: int = 64) -> float | None:
        """Run the version on (part of) its own test split: it must answer, with valid probabilities.

        It runs beside live traffic, through the micro-batcher in small chunks, so serving latency barely moves.
        """
        test = _balanced(_test_split(model), limit)
        texts = [text for text, _ in test] or list(WARM_UP_TEXTS)
        predictions = self._predict(model, texts)
        for row in predictions:
            if not all(0.0 <= p <= 1.0 for p in row.probabilities.values()):
                raise FailedPrecondition(f"{model.task.name} version {model.artifact.version} gives invalid outputs")
        if not test:
            return None
        return float(f1_score([label for _, label in test], [r.label for r in predictions], average="macro"))

    def _predict(self, model: TaskModel, texts: Sequence[str]) -> list[Prediction]:
        chunk = self.settings.evaluation_chunk
        out: list[Prediction] = []
        for start in range(0, len(texts), chunk):
            batch = list(texts[start : start + chunk])
            out += [row[0] for row in self.batcher(False, batch, priority=BACKGROUND, payload=(model,))]
        return out

    # --- replicas: the saved routes are the source of truth --------------------------------------------

    def sync(self) -> None:
        """Converge this replica to the saved routes (see :meth:`_reconcile`)."""
        with self._sync_lock:
            self._reconcile()

    def _reconcile(self) -> None:
        """For each saved route this replica does not serve yet: load the versions it lacks (smoke-tested, as
        LoadModel does), then swap the route in, in one assignment. Nothing is written back and nothing is
        audited: the replica that took the call did both. Versions no route uses any more are then unloaded,
        once no batch runs them. A version that fails to load leaves the task's current route serving; the
        failure is logged, counted (``salesai_model_sync_failures_total``) and shown in the version's state."""
        saved = saved_routes(self.db)
        self._saved = saved
        for key, route in saved.items():
            self._follow(key, route)
        self._unload_unused()

    def _follow(self, key: RouteKey, route: Route) -> None:
        with self._lock:
            current = self._routes.get(key)
        if current == route:
            return
        if not all(self._load_saved(key, version, "served") for version in route.serving()):
            return  # the current route keeps serving; the next sync tries again
        if route.previous:  # best effort: a rollback loads its target itself if need be
            self._load_saved(key, route.previous, "rollback target")
        with self._lock:
            self._routes[key] = route
            self._reset_agreement(key, current or Route(), route)
        log.info(
            "serving the saved route",
            extra={"task": key[1], "stable": route.stable, "canary": route.canary, "shadow": route.shadow},
        )

    def _load_saved(self, key: RouteKey, version: str, role: str) -> bool:
        """Load a version a saved route names; False when it cannot be (logged and counted once per try)."""
        try:
            self._ensure_loaded(*key, version, retry=False)
        except _StillFailing:
            return False
        except SalesAIError as error:
            if not self._stopped.is_set():  # at shutdown the batcher refuses work: no failure of the version
                SYNC_FAILURES.labels(key[1]).inc()
                log.warning(
                    "could not load a version a saved route names",
                    extra={"task": key[1], "version": version, "role": role, "error": error.message},
                )
            return False
        return True

    def _reset_agreement(self, key: RouteKey, old: Route, new: Route) -> None:
        """A version that starts as canary or shadow starts counting from zero."""
        for kind, before, after in (("canary", old.canary, new.canary), ("shadow", old.shadow, new.shadow)):
            if after and after != before:
                self._agreement.pop((key, kind, after), None)

    def _unload_unused(self) -> None:
        with self._lock:
            used = {(o, t, v) for (o, t), route in self._routes.items() for v in route.referenced()}
            self._pinned -= used  # routed once: from now on it goes when no route uses it
            for key in [k for k in self._loaded if k not in used and k not in self._pinned]:
                if self._inflight.get(key, 0) == 0:  # else: the next sync, once its batches have drained
                    del self._loaded[key]
                    self._smoke.pop(key, None)
                    log.info("unloaded a version no route uses", extra={"task": key[1], "version": key[2]})

    def _sync_forever(self) -> None:
        while not self._stopped.wait(self.settings.route_sync_seconds):
            try:
                self.sync()
            except Exception as error:  # the database may be away for a while: try again next round
                log.warning("route sync failed", extra={"error": type(error).__name__})

    def _current(self, tenant_id: str, task: str) -> Route:
        """The route a lifecycle call starts from: the saved one (even one this replica cannot serve yet)."""
        key = (tenant_id, task)
        return self._saved.get(key) or self._routes.get(key) or Route()

    def _commit(self, tenant_id: str, task: str, route: Route) -> Route:
        """Serve ``route`` here and save it for the other replicas and restarts. Every version it serves is
        loaded first (a broken one raises: nothing changes); the swap is one assignment."""
        for version in route.serving():
            self._ensure_loaded(tenant_id, task, version)
        key = (tenant_id, task)
        save_route(self.db, key, route)
        with self._lock:
            self._reset_agreement(key, self._routes.get(key) or Route(), route)
            self._routes[key] = route
            self._saved[key] = route
        return route

    @_serialised
    def activate(self, task: str, version: str, tenant_id: str = "", actor: str = "") -> VersionState:
        """Load if needed, then make this version the stable one for ``task`` (no gate: first activation)."""
        self._load(task, version, tenant_id, actor)
        route = activated(self._current(tenant_id, task), version)
        for other in route.serving():  # before the stage moves: a broken canary must not half-activate
            self._ensure_loaded(tenant_id, task, other)
        self.registry.set_stage(task, version, "production", tenant_id)
        self._commit(tenant_id, task, route)
        self._audit(tenant_id, actor, "model.activate", f"{task}/{version}")
        return self.state(self.registry.get(task, version, tenant_id))

    @_serialised
    def set_traffic(
        self,
        task: str,
        tenant_id: str = "",
        *,
        canary: str | None = None,
        canary_percent: float = 0.0,
        shadow: str | None = None,
        actor: str = "",
    ) -> TrafficState:
        if not 0.0 <= canary_percent <= 100.0:
            raise InvalidArgument("canary_percent must be between 0 and 100", field="canary_percent")
        current = self._current(tenant_id, task)
        if current.stable is None:
            raise FailedPrecondition(f"task {task!r} has no stable version to compare against; activate one first")
        for version in (canary, shadow):
            if version:
                if version == current.stable:
                    raise InvalidArgument(f"{task} version {version} is already the stable version")
                self._load(task, version, tenant_id, actor)
        route = replace(
            current, canary=canary or None, canary_percent=canary_percent if canary else 0.0, shadow=shadow or None
        )
        with self._lock:  # the same versions set again start their counts from zero too
            for kind, version in (("canary", canary), ("shadow", shadow)):
                if version:
                    self._agreement.pop(((tenant_id, task), kind, version), None)
        self._commit(tenant_id, task, route)
        self._audit(
            tenant_id,
            actor,
            "model.traffic",
            task,
            reason=f"canary={canary or '-'}@{canary_percent:g}% shadow={shadow or '-'}",
        )
        return self.traffic(task, tenant_id)

    @_reconciled
    def traffic(self, task: str, tenant_id: str = "") -> TrafficState:
        with self._lock:
            route = self._routes.get((tenant_id, task))
            if route is None:
                raise NotFound(
                    f"task {task!r} has no route for {'tenant ' + tenant_id if tenant_id else 'all tenants'}"
                )
            canary = self._agreement.get(((tenant_id, task), "canary", route.canary or ""), Agreement())
            shadow = self._agreement.get(((tenant_id, task), "shadow", route.shadow or ""), Agreement())
            return TrafficState(tenant_id, task, route, replace(canary), replace(shadow))

    def evaluate(self, model: TaskModel, test: list[tuple[str, str]]) -> float:
        """Macro-F1 of ``model`` on ``test`` (cached per version and test set)."""
        key = (model.key, hashlib.sha256(repr(test).encode()).hexdigest())
        if key not in self._scores:
            predicted = [p.label for p in self._predict(model, [text for text, _ in test])]
            self._scores[key] = float(f1_score([label for _, label in test], predicted, average="macro"))
        return self._scores[key]

    @_serialised
    def promote(
        self, task: str, version: str, tenant_id: str = "", *, force: bool = False, actor: str = "", reason: str = ""
    ) -> tuple[TrafficState, GateResult]:
        """Gate on test-split macro-F1 against the serving version, then make ``version`` stable."""
        if force and not reason.strip():
            raise InvalidArgument("a forced promotion needs a reason", field="reason")
        self._load(task, version, tenant_id, actor)
        route = self._current(tenant_id, task)
        candidate = self._ensure_loaded(tenant_id, task, version)
        margin = self.settings.promotion_margin
        if route.stable is None or route.stable == version:
            gate = GateResult(True, False, 0.0, 0.0, margin, 0, "no other version serves this task")
        else:
            gate = self._gate(candidate, self._ensure_loaded(tenant_id, task, route.stable), force)
        if not gate.passed and not force:
            self._audit(tenant_id, actor, "model.promote", f"{task}/{version}", "refused", gate.detail)
            raise FailedPrecondition(f"promotion of {task} {version} refused: {gate.detail}")
        self.activate(task, version, tenant_id, actor)
        action = "model.promote.forced" if gate.forced else "model.promote"
        self._audit(tenant_id, actor, action, f"{task}/{version}", reason=f"{reason} {gate.detail}".strip())
        return self.traffic(task, tenant_id), gate

    def _gate(self, candidate: TaskModel, serving: TaskModel, force: bool) -> GateResult:
        margin = self.settings.promotion_margin
        if serving.task.labels != candidate.task.labels:
            return GateResult(False, force, 0.0, 0.0, margin, 0, "labels differ from the serving version's")
        test = _test_split(candidate) or _test_split(serving)
        if not test:
            return GateResult(False, force, 0.0, 0.0, margin, 0, "no test split to compare on")
        recorded = _recorded_on_same_split(candidate, serving)
        if recorded is not None:  # both were scored on this very split at training: no live cost
            ours, theirs = recorded
        else:
            ours, theirs = self.evaluate(candidate, test), self.evaluate(serving, test)
        passed = ours >= theirs - margin
        how = "as recorded at training" if recorded is not None else "measured now"
        detail = (
            f"macro-F1 {ours:.4f} vs serving {theirs:.4f} on the same {len(test)} test messages "
            f"({how}; allowed drop {margin:.4f})"
        )
        return GateResult(passed, force and not passed, ours, theirs, margin, len(test), detail)

    @_serialised
    def rollback(self, task: str, tenant_id: str = "", actor: str = "") -> TrafficState:
        """Re-activate the version that served before the last promotion (instant: it stays loaded)."""
        route = self._current(tenant_id, task)
        if not route.previous:
            raise FailedPrecondition(f"task {task!r} has no previous version to roll back to")
        self.activate(task, route.previous, tenant_id, actor)
        self._audit(tenant_id, actor, "model.rollback", f"{task}/{route.previous}")
        return self.traffic(task, tenant_id)

    @_serialised
    def unload(self, task: str, version: str, tenant_id: str = "", actor: str = "") -> VersionState:
        """Drop a version that no route uses, after the batches still running it finish (drain)."""
        info = self.registry.get(task, version, tenant_id)
        key = (tenant_id, task, version)
        route = self._current(tenant_id, task)
        with self._lock:
            served_here = self._routes.get((tenant_id, task), Route()).serving()
            if version in route.serving() or version in served_here:
                raise FailedPrecondition(f"{task} version {version} is in use; move its traffic first")
        if route.previous == version:
            self._commit(tenant_id, task, replace(route, previous=None))
        with self._lock:
            model = self._loaded.pop(key, None)
            self._pinned.discard(key)
            deadline = time.monotonic() + self.settings.grace_seconds
            while model is not None and self._inflight[key] > 0 and time.monotonic() < deadline:
                self._drained.wait(0.05)
        self._audit(tenant_id, actor, "model.unload", f"{task}/{version}")
        return self.state(info)

    def _audit(
        self, tenant_id: str, actor: str, action: str, target: str, outcome: str = "allowed", reason: str = ""
    ) -> None:
        with self.db.session() as session, session.begin():
            session.add(
                AuditEvent(
                    tenant_id=tenant_id or "*",
                    actor=actor or "system",
                    action=action,
                    target_type="model",
                    target_id=target,
                    reason=reason[:1000],
                    outcome=outcome,
                )
            )

    def close(self) -> None:
        self._stopped.set()
        self.batcher.close()  # a sync that is loading a version stops at its next batch
        if self._sync_thread is not None:
            self._sync_thread.join(timeout=max(self.settings.grace_seconds, 1.0))
        self._shadow_pool.shutdown(wait=False, cancel_futures=True)
        self.db.dispose()


def _test_split(model: TaskModel) -> list[tuple[str, str]]:
    """The held-out test messages saved with a version (``report/test.jsonl``), if any."""
    path = model.artifact.path / TEST_SPLIT
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            if record.get("label") in model.task.labels:
                rows.append((record["text"], record["label"]))
    return rows


def _balanced(rows: list[tuple[str, str]], limit: int) -> list[tuple[str, str]]:
    """Up to ``limit`` rows taken round-robin over the labels (a test split is often sorted by label)."""
    by_label: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        by_label[row[1]].append(row)
    out: list[tuple[str, str]] = []
    queues = list(by_label.values())
    while len(out) < limit and any(queues):
        for queue in queues:
            if queue and len(out) < limit:
                out.append(queue.pop(0))
    return out


def _recorded_on_same_split(candidate: TaskModel, serving: TaskModel) -> tuple[float, float] | None:
    """Both versions' training-time test macro-F1, when they were measured on byte-identical test splits."""
    paths = [m.artifact.path / TEST_SPLIT for m in (candidate, serving)]
    scores = [m.artifact.metrics.get("macro_f1") for m in (candidate, serving)]
    if not all(p.is_file() for p in paths) or None in scores:
        return None
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    if len(digests) != 1:
        return None
    return float(scores[0]), float(scores[1])  # type: ignore[arg-type]
