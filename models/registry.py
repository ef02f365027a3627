"""The model registry: version folders under a root folder, indexed by rows in ``model_versions``.

Layout: ``<root>/<tenant or _global>/<task>/<version>/`` (see :mod:`models.artifacts`). A task's serving
version is the row at stage ``production``; a tenant's own version wins over the global one.
"""

from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from models.artifacts import ModelArtifact, read_artifact
from services.common.errors import AlreadyExists, InvalidArgument, NotFound
from services.common.storage import Database
from services.common.storage.models import ModelVersion

STAGES = ("registered", "production", "archived")
PRETRAINED_DIR = Path(__file__).with_name("pretrained")
_VERSION = re.compile(r"^v(\d+)$")


@dataclass(frozen=True)
class VersionInfo:
    tenant_id: str
    task: str
    version: str
    path: Path
    stage: str
    labels: list[str]
    metrics: dict[str, float] = field(default_factory=dict)
    data_hash: str = ""
    base_model_hash: str = ""
    method: str = "lora"
    created_by: str = ""
    created_at: datetime | None = None

    @classmethod
    def from_row(cls, row: ModelVersion) -> VersionInfo:
        return cls(
            row.tenant_id, row.task, row.version, Path(row.path), row.stage, list(row.labels),
            dict(row.metrics), row.data_hash, row.base_model_hash, row.method, row.created_by, row.created_at,
        )  # fmt: skip


class ModelRegistry:
    def __init__(self, db: Database, root: Path) -> None:
        self.db = db
        self.root = Path(root)

    def folder(self, task: str, tenant_id: str = "") -> Path:
        return self.root / (tenant_id or "_global") / task

    def staging_dir(self, task: str) -> Path:
        """A fresh folder to train into; :meth:`register` moves it into place."""
        path = self.root / ".staging" / f"{task}-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path

    def next_version(self, task: str, tenant_id: str = "") -> str:
        with self.db.session() as session:
            versions = session.scalars(
                select(ModelVersion.version).where(ModelVersion.task == task, ModelVersion.tenant_id == tenant_id)
            ).all()
        numbers = [int(m[1]) for v in versions if (m := _VERSION.match(v))]
        return f"v{max(numbers, default=0) + 1}"

    def register(
        self, source: Path, *, tenant_id: str = "", stage: str = "registered", created_by: str = "", move: bool = False
    ) -> VersionInfo:
        """Check the folder, copy (or move) it under the registry and add its row."""
        if stage not in STAGES:
            raise InvalidArgument(f"stage must be one of {', '.join(STAGES)}", field="stage")
        artifact = read_artifact(Path(source))
        task, version = artifact.task.name, artifact.version
        target = self.folder(task, tenant_id) / version
        with self.db.session() as session:
            exists = session.scalar(
                select(ModelVersion).where(
                    ModelVersion.tenant_id == tenant_id, ModelVersion.task == task, ModelVersion.version == version
                )
            )
            if exists is not None:
                raise AlreadyExists(f"{task} version {version} is already registered")
        if Path(source).resolve() != target.resolve():
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.move if move else shutil.copytree)(str(source), str(target))
        row = ModelVersion(
            tenant_id=tenant_id,
            task=task,
            version=version,
            path=str(target),
            stage="registered",
            labels=list(artifact.task.labels),
            metrics=artifact.metrics,
            data_hash=artifact.data_hash,
            base_model_hash=artifact.base_model_hash,
            method=str(artifact.training.get("method", "lora")),
            created_by=created_by,
        )
        with self.db.session() as session, session.begin():
            session.add(row)
        if stage == "production":
            return self.set_stage(task, version, "production", tenant_id)
        return self.get(task, version, tenant_id)

    def _row(self, session: Any, task: str, version: str, tenant_id: str) -> ModelVersion:
        row = session.scalar(
            select(ModelVersion).where(
                ModelVersion.tenant_id == tenant_id, ModelVersion.task == task, ModelVersion.version == version
            )
        )
        if row is None:
            raise NotFound(f"{task} version {version!r} is not registered")
        return row

    def get(self, task: str, version: str, tenant_id: str = "") -> VersionInfo:
        with self.db.session() as session:
            return VersionInfo.from_row(self._row(session, task, version, tenant_id))

    def artifact(self, task: str, version: str, tenant_id: str = "") -> ModelArtifact:
        return read_artifact(self.get(task, version, tenant_id).path)

    def versions(self, task: str | None = None, tenant_id: str | None = None) -> list[VersionInfo]:
        query = select(ModelVersion).order_by(ModelVersion.task, ModelVersion.tenant_id, ModelVersion.created_at)
        if task:
            query = query.where(ModelVersion.task == task)
        if tenant_id is not None:
            query = query.where(ModelVersion.tenant_id.in_(["", tenant_id]))
        with self.db.session() as session:
            return [VersionInfo.from_row(r) for r in session.scalars(query)]

    def set_stage(self, task: str, version: str, stage: str, tenant_id: str = "") -> VersionInfo:
        """``production`` archives the previous production version of the same task and tenant."""
        if stage not in STAGES:
            raise InvalidArgument(f"stage must be one of {', '.join(STAGES)}", field="stage")
        with self.db.session() as session, session.begin():
            row = self._row(session, task, version, tenant_id)
            if stage == "production":
                for other in session.scalars(
                    select(ModelVersion).where(
                        ModelVersion.tenant_id == tenant_id,
                        ModelVersion.task == task,
                        ModelVersion.stage == "production",
                        ModelVersion.id != row.id,
                    )
                ):
                    other.stage = "archived"
            row.stage = stage
        return self.get(task, version, tenant_id)

    def production(self, task: str, tenant_id: str = "") -> VersionInfo | None:
        """The serving version for a tenant: its own production version, else the global one."""
        with self.db.session() as session:
            for owner in dict.fromkeys([tenant_id, ""]):
                row = session.scalar(
                    select(ModelVersion).where(
                        ModelVersion.tenant_id == owner, ModelVersion.task == task, ModelVersion.stage == "production"
                    )
                )
                if row is not None:
                    return VersionInfo.from_row(row)
        return None

    def tasks(self) -> list[str]:
        with self.db.session() as session:
            return sorted(set(session.scalars(select(ModelVersion.task)).all()))

    def install_pretrained(self, source: Path = PRETRAINED_DIR) -> list[VersionInfo]:
        """Register the adapters shipped with salesai (``models/pretrained/<task>``) for tasks that have none."""
        installed = []
        for folder in sorted(p for p in Path(source).iterdir() if p.is_dir()) if Path(source).is_dir() else []:
            artifact = read_artifact(folder)
            if self.versions(artifact.task.name, tenant_id=""):
                continue
            installed.append(self.register(folder, stage="production", created_by="salesai (pretrained)"))
        return installed
