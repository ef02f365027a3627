"""The annotation workbench REST API (``/v1/workbench``; contract in annotation/README.md).

The logic is in :mod:`annotation`; this module authorises, redacts new texts through the ingestion service,
pre-annotates through the inference service (never failing a load when it cannot), and converts bodies.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import grpc
from fastapi import APIRouter, Body, File, Path, Query, Response, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field
from salesai.inference.v1 import inference_pb2
from salesai.ingestion.v1 import ingestion_pb2

from annotation.labelling import Labelling
from annotation.schema_draft import draft_schema
from annotation.schemas import (
    AgreementPublic,
    AnnotationCreate,
    AnnotationPublic,
    CommentCreate,
    CommentPublic,
    ConflictList,
    DraftCreate,
    DraftPublic,
    FeedbackPublic,
    GoldCreate,
    HistoryPublic,
    ImportPublic,
    ItemPublic,
    ItemsCreate,
    LoadPublic,
    NextPublic,
    ProjectCreate,
    ProjectList,
    ProjectPublic,
    ProjectUpdate,
    ResolutionCreate,
    ResolutionPublic,
    SnapshotCreate,
    SnapshotList,
    SnapshotPublic,
)
from annotation.snapshots import SnapshotStore, import_answers, parse_label_studio, to_jsonl, to_label_studio
from annotation.store import Actor, NewItem, ProjectStore
from annotation.uploads import parse_upload
from gateway.auth import Caller
from gateway.backends import Backends
from gateway.deps import (
    AgreementCaller,
    BackendsDep,
    DatabaseDep,
    DatasetCaller,
    LabellingCaller,
    ProjectAdminCaller,
    RequestId,
    ReviewCaller,
    WorkbenchMember,
    WorkbenchReader,
)
from gateway.routers import jobs
from gateway.routers.jobs import HyperParametersIn, JobCreate, JobPublic
from services.common.errors import FailedPrecondition, InvalidArgument
from services.common.roles import Role
from services.common.storage import Database
from services.common.storage.models import AnnotationProject, AnnotationSnapshot

router = APIRouter(prefix="/v1/workbench", tags=["workbench"])

ProjectId = Annotated[str, Path(min_length=1, max_length=64)]
ItemId = Annotated[str, Path(min_length=1, max_length=64)]
SnapshotId = Annotated[str, Path(min_length=1, max_length=64)]
REDACT_CONCURRENCY = 16
CLASSIFY_BATCH = 32
FULL_VIEW = {Role.REVIEWER, Role.PROJECT_ADMIN, Role.ADMIN}
UNREACHABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}


def actor(caller: Caller) -> Actor:
    return Actor(caller.tenant_id, f"key:{caller.key_id}", caller.role.value)


def project_public(db: Database, project: AnnotationProject, user: str) -> ProjectPublic:
    return ProjectPublic(
        id=project.id,
        name=project.name,
        description=project.description,
        kind=project.kind,  # type: ignore[arg-type]
        labels=project.labels,
        overlap=project.overlap,
        task=project.task or None,
        instructions=project.instructions,
        created_at=project.created_at,
        stats=Labelling(db).stats(project, user),  # type: ignore[arg-type]
    )


def snapshot_public(row: AnnotationSnapshot) -> SnapshotPublic:
    return SnapshotPublic(
        id=row.id,
        project_id=row.project_id,
        version=row.version,
        sha256=row.sha256,
        created_at=row.created_at,
        counts=row.counts,
        label_counts=row.label_counts,
    )


async def redact(backends: Backends, rid: str, texts: Sequence[str], what: str) -> list[tuple[str, str]]:
    """(redacted text, language) per text via the ingestion service; texts it rejects are named in one 422."""
    options = backends.call_options(rid)
    gate = asyncio.Semaphore(REDACT_CONCURRENCY)
    problems: list[str] = []

    async def one(n: int, text: str) -> tuple[str, str]:
        async with gate:
            try:
                reply = await backends.ingestion.Redact(ingestion_pb2.RedactRequest(text=text.encode()), **options)
            except grpc.aio.AioRpcError as err:
                if err.code() != grpc.StatusCode.INVALID_ARGUMENT:
                    raise
                problems.append(f"{what} {n}: {(err.details() or 'rejected').partition(':')[2].strip()}")
                return "", ""
            return reply.redacted_text, reply.language

    results = await asyncio.gather(*(one(n, t) for n, t in enumerate(texts, start=1)))
    if problems:
        raise InvalidArgument(f"{len(problems)} text(s) rejected: " + "; ".join(sorted(problems)[:5]), field="texts")
    return results


async def predict(
    backends: Backends, rid: str, tenant_id: str, task: str, texts: Sequence[str]
) -> tuple[list[tuple[str, float] | None], str, str]:
    """Pre-annotations in batches, or none with the reason (a load never fails for want of a model)."""
    if not task or not texts:
        return [None] * len(texts), "none", ""
    out: list[tuple[str, float] | None] = []
    try:
        for start in range(0, len(texts), CLASSIFY_BATCH):
            batch = list(texts[start : start + CLASSIFY_BATCH])
            request = inference_pb2.ClassifyRequest(tenant_id=tenant_id, texts=batch, tasks=[task])
            reply = await backends.inference.Classify(request, **backends.call_options(rid))
            for row in reply.results:
                found = next((p for p in row.predictions if p.task == task), None)
                out.append((found.label, round(found.confidence, 6)) if found else None)
    except grpc.aio.AioRpcError as err:
        none: list[tuple[str, float] | None] = [None] * len(texts)
        if err.code() == grpc.StatusCode.NOT_FOUND:
            return none, "no_model", f"no model serves task {task!r}; items loaded without predictions"
        if err.code() in UNREACHABLE:
            return none, "unavailable", "inference service unreachable; items loaded without predictions"
        reason = (err.details() or "").partition(":")[0] or err.code().name.lower()
        return none, "failed", f"the inference service refused the texts ({reason}); items loaded without predictions"
    return out, "ok", ""


def check_count(backends: Backends, n: int) -> None:
    """Before any redaction or model work: one load is at most ``workbench_max_items`` items."""
    if n > backends.settings.workbench_max_items:
        raise InvalidArgument(f"{n} items; at most {backends.settings.workbench_max_items} per load", field="texts")


async def load(
    db: Database, backends: Backends, rid: str, who: Actor, project_id: str, items: list[NewItem], **kwargs: Any
) -> LoadPublic:
    check_count(backends, len(items))
    store = ProjectStore(db)
    project = store.get(who.tenant_id, project_id)
    predictions, state, note = await predict(backends, rid, who.tenant_id, project.task, [i.text for i in items])
    for item, found in zip(items, predictions, strict=True):
        if found is not None:
            item.prediction_label, item.prediction_confidence = found
    added, duplicates = store.add_items(who, project_id, items, **kwargs)
    done = sum(1 for p in predictions if p is not None)
    return LoadPublic(added=added, skipped_duplicates=duplicates, preannotated=done, preannotation=state, note=note)


@router.post("/projects/draft", response_model=DraftPublic, summary="Draft a label schema from a description")
async def draft(body: DraftCreate, _caller: ProjectAdminCaller) -> DraftPublic:
    return DraftPublic.model_validate(draft_schema(body.description).to_dict())


@router.post("/projects", status_code=status.HTTP_201_CREATED, response_model=ProjectPublic, summary="Create a project")
async def create_project(body: ProjectCreate, caller: ProjectAdminCaller, db: DatabaseDep) -> ProjectPublic:
    who = actor(caller)
    return project_public(db, ProjectStore(db).create(who, body.model_dump()), who.user)


@router.get("/projects", response_model=ProjectList, summary="The tenant's projects with the caller's progress")
async def list_projects(caller: WorkbenchReader, db: DatabaseDep) -> ProjectList:
    who = actor(caller)
    return ProjectList(
        projects=[project_public(db, p, who.user) for p in ProjectStore(db).for_tenant(caller.tenant_id)]
    )


@router.get("/projects/{project_id}", response_model=ProjectPublic, summary="One project")
async def get_project(caller: WorkbenchReader, db: DatabaseDep, project_id: ProjectId) -> ProjectPublic:
    return project_public(db, ProjectStore(db).get(caller.tenant_id, project_id), actor(caller).user)


@router.patch(
    "/projects/{project_id}", response_model=ProjectPublic, summary="Edit a project (409: removing a used label)"
)
async def update_project(
    body: ProjectUpdate, caller: ProjectAdminCaller, db: DatabaseDep, project_id: ProjectId
) -> ProjectPublic:
    who = actor(caller)
    changes = body.model_dump(exclude_unset=True)
    return project_public(db, ProjectStore(db).update(who, project_id, changes), who.user)


@router.post("/projects/{project_id}/items", response_model=LoadPublic, summary="Add interactions or texts")
async def add_items(
    body: ItemsCreate,
    caller: ProjectAdminCaller,
    db: DatabaseDep,
    backends: BackendsDep,
    rid: RequestId,
    project_id: ProjectId,
) -> LoadPublic:
    if (body.interaction_ids is None) == (body.texts is None):
        raise InvalidArgument("send exactly one of interaction_ids or texts", field="body")
    check_count(backends, len(body.interaction_ids or body.texts or []))
    who = actor(caller)
    ProjectStore(db).get(caller.tenant_id, project_id)  # 404 before any redaction work
    if body.interaction_ids is not None:
        rows = ProjectStore(db).interactions(caller.tenant_id, body.interaction_ids)
        items = [
            NewItem(
                r.redacted_text,
                "interaction",
                r.language,
                r.external_id,
                interaction_id=r.id,
                customer_id=r.customer_id,
            )
            for r in rows
        ]
    else:
        texts = body.texts or []
        redacted = await redact(backends, rid, [t.text for t in texts], "texts item")
        items = [
            NewItem(text, "text", lang, t.external_id, meta=t.meta)
            for t, (text, lang) in zip(texts, redacted, strict=True)
        ]
    return await load(db, backends, rid, who, project_id, items)


@router.post("/projects/{project_id}/items/upload", response_model=LoadPublic, summary="Upload a .jsonl or .csv")
async def upload_items(
    caller: ProjectAdminCaller,
    db: DatabaseDep,
    backends: BackendsDep,
    rid: RequestId,
    project_id: ProjectId,
    file: Annotated[UploadFile, File(description='.jsonl ({"text": ...} per line) or .csv with a text column')],
) -> LoadPublic:
    who = actor(caller)
    ProjectStore(db).get(caller.tenant_id, project_id)
    rows = parse_upload(file.filename or "", await file.read(), backends.settings.workbench_max_items)
    redacted = await redact(backends, rid, [r.text for r in rows], "line")
    items = [NewItem(text, "upload", lang, r.external_id) for r, (text, lang) in zip(rows, redacted, strict=True)]
    return await load(db, backends, rid, who, project_id, items)


@router.post(
    "/projects/{project_id}/items/from-feedback",
    response_model=FeedbackPublic,
    summary="Queue the messages behind suggestions reps rejected or edited since the last pull (top of the queue)",
)
async def items_from_feedback(
    caller: ProjectAdminCaller, db: DatabaseDep, backends: BackendsDep, rid: RequestId, project_id: ProjectId
) -> FeedbackPublic:
    who = actor(caller)
    rows, cursor, seen = ProjectStore(db).feedback_interactions(caller.tenant_id, project_id)
    items = [
        NewItem(r.redacted_text, "feedback", r.language, r.external_id, interaction_id=r.id, customer_id=r.customer_id)
        for r in rows
    ]
    loaded = await load(db, backends, rid, who, project_id, items, feedback_cursor=cursor)
    return FeedbackPublic(added=loaded.added, skipped_duplicates=loaded.skipped_duplicates, feedback_seen=seen)


@router.post(
    "/projects/{project_id}/items/{item_id}/gold", response_model=ItemPublic, summary="Set or clear a gold answer"
)
async def set_gold(
    body: GoldCreate, caller: ProjectAdminCaller, db: DatabaseDep, project_id: ProjectId, item_id: ItemId
) -> ItemPublic:
    who = actor(caller)
    answer = None if body.clear else body.model_dump(include={"labels", "spans"})
    ProjectStore(db).set_gold(who, project_id, item_id, answer)
    return ItemPublic.model_validate(Labelling(db).get_item(who, project_id, item_id, full=True))


@router.get(
    "/projects/{project_id}/next",
    response_model=NextPublic,
    responses={204: {"description": "The caller's queue is empty"}},
    summary="The caller's next item: most uncertain pre-annotation first",
)
async def next_item(
    caller: LabellingCaller,
    db: DatabaseDep,
    project_id: ProjectId,
    after_item_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    found = Labelling(db).next_item(actor(caller), project_id, after_item_id)
    if found is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    view, remaining = found
    return NextPublic(item=ItemPublic.model_validate(view), remaining=remaining)


@router.get("/projects/{project_id}/items/{item_id}", response_model=ItemPublic, summary="One item")
async def get_item(caller: WorkbenchMember, db: DatabaseDep, project_id: ProjectId, item_id: ItemId) -> ItemPublic:
    view = Labelling(db).get_item(actor(caller), project_id, item_id, full=caller.role in FULL_VIEW)
    return ItemPublic.model_validate(view)


@router.put(
    "/projects/{project_id}/items/{item_id}/annotation",
    response_model=AnnotationPublic,
    summary="Label, change or skip an item (audited)",
)
async def annotate(
    body: AnnotationCreate, caller: LabellingCaller, db: DatabaseDep, project_id: ProjectId, item_id: ItemId
) -> AnnotationPublic:
    row = Labelling(db).annotate(actor(caller), project_id, item_id, body.model_dump())
    return AnnotationPublic.model_validate(row, from_attributes=True)


@router.post(
    "/projects/{project_id}/items/{item_id}/comments",
    status_code=status.HTTP_201_CREATED,
    response_model=CommentPublic,
    summary="Comment on an item",
)
async def comment(
    body: CommentCreate,
    caller: WorkbenchMember,
    db: DatabaseDep,
    backends: BackendsDep,
    rid: RequestId,
    project_id: ProjectId,
    item_id: ItemId,
) -> CommentPublic:
    ((text, _lang),) = await redact(backends, rid, [body.text], "comment")  # people quote phone numbers in notes
    row = Labelling(db).comment(actor(caller), project_id, item_id, text)
    return CommentPublic.model_validate(row, from_attributes=True)


@router.get("/projects/{project_id}/history", response_model=HistoryPublic, summary="The caller's answered items")
async def history(caller: WorkbenchMember, db: DatabaseDep, project_id: ProjectId) -> HistoryPublic:
    return HistoryPublic.model_validate({"items": Labelling(db).history(actor(caller), project_id)})


@router.get("/projects/{project_id}/conflicts", response_model=ConflictList, summary="Items whose labellers disagree")
async def conflicts(caller: ReviewCaller, db: DatabaseDep, project_id: ProjectId) -> ConflictList:
    return ConflictList.model_validate({"items": Labelling(db).conflicts(actor(caller), project_id)})


@router.put(
    "/projects/{project_id}/items/{item_id}/resolution",
    response_model=ResolutionPublic,
    summary="Resolve an item; the resolution is final (audited)",
)
async def resolve(
    body: ResolutionCreate,
    caller: ReviewCaller,
    db: DatabaseDep,
    backends: BackendsDep,
    rid: RequestId,
    project_id: ProjectId,
    item_id: ItemId,
) -> ResolutionPublic:
    answer = body.model_dump()
    if body.note.strip():
        ((answer["note"], _lang),) = await redact(backends, rid, [body.note], "note")
    row = Labelling(db).resolve(actor(caller), project_id, item_id, answer)
    return ResolutionPublic.model_validate(row, from_attributes=True)


@router.get("/projects/{project_id}/agreement", response_model=AgreementPublic, summary="Kappa, alpha, gold accuracy")
async def agreement(caller: AgreementCaller, db: DatabaseDep, project_id: ProjectId) -> AgreementPublic:
    return AgreementPublic.model_validate(Labelling(db).agreement(caller.tenant_id, project_id))


@router.post(
    "/projects/{project_id}/snapshots",
    status_code=status.HTTP_201_CREATED,
    response_model=SnapshotPublic,
    summary="Cut an immutable, versioned dataset snapshot",
)
async def create_snapshot(
    caller: ProjectAdminCaller, db: DatabaseDep, project_id: ProjectId, body: SnapshotCreate | None = None
) -> SnapshotPublic:
    params = (body or SnapshotCreate()).model_dump()
    return snapshot_public(SnapshotStore(db).create(actor(caller), project_id, params))


@router.get("/projects/{project_id}/snapshots", response_model=SnapshotList, summary="A project's snapshots")
async def list_snapshots(caller: DatasetCaller, db: DatabaseDep, project_id: ProjectId) -> SnapshotList:
    return SnapshotList(
        snapshots=[snapshot_public(r) for r in SnapshotStore(db).for_project(caller.tenant_id, project_id)]
    )


@router.get(
    "/snapshots/{snapshot_id}/export",
    response_class=Response,
    responses={200: {"content": {"application/x-ndjson": {}, "application/json": {}}}},
    summary="Download a snapshot: JSONL for `salesai train` or Label Studio tasks JSON",
)
async def export_snapshot(
    caller: DatasetCaller,
    db: DatabaseDep,
    snapshot_id: SnapshotId,
    format: Annotated[str, Query(pattern="^(jsonl|label-studio)$")] = "jsonl",  # noqa: A002 - the API's word
) -> Response:
    row = SnapshotStore(db).get(caller.tenant_id, snapshot_id)
    stem = f"snapshot-{row.project_id}-v{row.version}"
    if format == "jsonl":
        headers = {"Content-Disposition": f'attachment; filename="{stem}.jsonl"', "X-Snapshot-Sha256": row.sha256}
        return Response(to_jsonl(row.rows), media_type="application/x-ndjson", headers=headers)
    body = json.dumps(to_label_studio(row.kind, row.rows), ensure_ascii=False).encode("utf-8")
    headers = {"Content-Disposition": f'attachment; filename="{stem}.label-studio.json"'}
    return Response(body, media_type="application/json", headers=headers)


@router.post(
    "/projects/{project_id}/import/label-studio",
    response_model=ImportPublic,
    summary="Import Label Studio tasks JSON (texts redacted on import)",
)
async def import_label_studio(
    caller: ProjectAdminCaller,
    db: DatabaseDep,
    backends: BackendsDep,
    rid: RequestId,
    project_id: ProjectId,
    payload: Annotated[list[Any], Body(description="Label Studio tasks: [{data: {text}, annotations: [...]}]")],
) -> ImportPublic:
    who = actor(caller)
    project = ProjectStore(db).get(caller.tenant_id, project_id)
    tasks = parse_label_studio(payload, project, backends.settings.workbench_max_items)
    redacted = [text for text, _lang in await redact(backends, rid, [t.text for t in tasks], "task")]
    added, duplicates, count, dropped = import_answers(db, who, project_id, tasks, redacted)
    return ImportPublic(added=added, skipped_duplicates=duplicates, annotations=count, spans_dropped=dropped)


class WhoAmI(BaseModel):
    role: str
    tenant_id: str
    user: str = Field(description="How the workbench names this caller in answers and audits (key:<id>).")


@router.get("/me", response_model=WhoAmI, summary="The caller's role and tenant (the UI shows what the role may do)")
async def who_am_i(caller: WorkbenchReader) -> WhoAmI:
    return WhoAmI(role=caller.role.value, tenant_id=caller.tenant_id, user=actor(caller).user)


class TrainCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9_]{0,62}$", description="Task to train; default: the project's task."
    )
    params: HyperParametersIn = Field(default_factory=HyperParametersIn)
    deploy: Literal["none", "shadow", "canary"] = "none"
    canary_percent: float = Field(0.0, ge=0, le=100)


@router.post(
    "/snapshots/{snapshot_id}/train",
    status_code=status.HTTP_201_CREATED,
    response_model=JobPublic,
    summary="Train a classifier from this snapshot (a training job; optionally shadow or canary when it passes)",
)
async def train_from_snapshot(
    caller: DatasetCaller,
    db: DatabaseDep,
    backends: BackendsDep,
    rid: RequestId,
    snapshot_id: SnapshotId,
    body: TrainCreate | None = None,
) -> JobPublic:
    body = body or TrainCreate()
    snapshot = SnapshotStore(db).get(caller.tenant_id, snapshot_id)  # another tenant's: 404
    if snapshot.kind != "single":
        raise FailedPrecondition(
            f"a {snapshot.kind}-label snapshot cannot train a single-label classifier; export it instead",
            field="snapshot_id",
        )
    project = ProjectStore(db).get(caller.tenant_id, snapshot.project_id)
    task = body.task or project.task or _task_name(project.name)
    job = JobCreate(
        task=task, snapshot_id=snapshot.id, params=body.params, deploy=body.deploy, canary_percent=body.canary_percent
    )
    return await jobs.submit(job, caller, backends, rid)


def _task_name(name: str) -> str:
    """A task name from a project name: ``Reply interest`` → ``reply_interest`` (ASCII; else ``project_<hash>``)."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:63]
    if not slug or not slug[0].isalpha():
        slug = "project_" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return slug
