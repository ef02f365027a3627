"""Jobs and their events in the database. State changes are conditional updates, so a worker finishing and an
operator cancelling at the same moment cannot both win."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update

from services.common.errors import FailedPrecondition, NotFound
from services.common.storage import Database
from services.common.storage.models import TrainingJob, TrainingJobEvent
from training.jobs.spec import JobRequest


def now() -> datetime:
    return datetime.now(UTC)


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, request: JobRequest, *, code_version: str) -> TrainingJob:
        row = TrainingJob(
            tenant_id=request.tenant_id,
            task=request.task,
            state="queued",
            dataset_path=request.dataset_path,
            snapshot_id=request.snapshot_id,
            config=request.params.to_dict(),
            deploy=request.deploy,
            canary_percent=request.canary_percent,
            seed=request.params.seed,
            code_version=code_version,
            created_by=request.actor,
        )
        with self.db.session() as session, session.begin():
            session.add(row)
        self.event(row.id, "state", "queued", {"state": "queued"})
        return self.get(row.id)

    def get(self, job_id: str, tenant_id: str | None = None) -> TrainingJob:
        """The job; another tenant's job is reported as missing, exactly like an unknown id."""
        with self.db.session() as session:
            row = session.get(TrainingJob, job_id) if len(job_id) <= 32 else None
        if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
            raise NotFound(f"training job {job_id!r} not found", field="job_id")
        return row

    def find(self, tenant_id: str | None, *, task: str = "", state: str = "", limit: int = 50) -> list[TrainingJob]:
        query = select(TrainingJob).order_by(TrainingJob.created_at.desc()).limit(limit)
        if tenant_id is not None:
            query = query.where(TrainingJob.tenant_id == tenant_id)
        if task:
            query = query.where(TrainingJob.task == task)
        if state:
            query = query.where(TrainingJob.state == state)
        with self.db.session() as session:
            return list(session.scalars(query))

    def in_state(self, *states: str) -> list[TrainingJob]:
        query = select(TrainingJob).where(TrainingJob.state.in_(states)).order_by(TrainingJob.created_at)
        with self.db.session() as session:
            return list(session.scalars(query))

    def transition(self, job_id: str, from_states: Sequence[str], to_state: str, **fields: Any) -> bool:
        """Move the job to ``to_state`` only if it is in one of ``from_states``; records a state event."""
        with self.db.session() as session, session.begin():
            changed = session.execute(  # type: ignore[attr-defined]
                update(TrainingJob)
                .where(TrainingJob.id == job_id, TrainingJob.state.in_(list(from_states)))
                .values(state=to_state, updated_at=now(), **fields)
            ).rowcount
        if changed:
            detail = fields.get("error", "")
            self.event(job_id, "state", f"{to_state}{': ' + detail if detail else ''}", {"state": to_state})
        return bool(changed)

    def require_transition(self, job: TrainingJob, from_states: Sequence[str], to_state: str, **fields: Any) -> None:
        if not self.transition(job.id, from_states, to_state, **fields):
            current = self.get(job.id).state
            raise FailedPrecondition(
                f"job {job.id} is {current}; only a job that is {' or '.join(from_states)} can become {to_state}"
            )

    def update(self, job_id: str, **fields: Any) -> None:
        with self.db.session() as session, session.begin():
            session.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(updated_at=now(), **fields))

    def event(self, job_id: str, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        """Append an event; ``seq`` is the next number for the job (the unique key makes a race retry)."""
        for _ in range(5):
            try:
                with self.db.session() as session, session.begin():
                    last = session.scalar(
                        select(func.max(TrainingJobEvent.seq)).where(TrainingJobEvent.job_id == job_id)
                    )
                    session.add(
                        TrainingJobEvent(
                            job_id=job_id, seq=(last or 0) + 1, kind=kind, message=message, data=data or {}
                        )
                    )
                return
            except Exception as error:  # noqa: BLE001 - a concurrent writer took the number: take the next
                if "unique" not in str(error).lower() and "duplicate" not in str(error).lower():
                    raise

    def events(self, job_id: str, after_seq: int = 0, limit: int = 500) -> list[TrainingJobEvent]:
        query = (
            select(TrainingJobEvent)
            .where(TrainingJobEvent.job_id == job_id, TrainingJobEvent.seq > after_seq)
            .order_by(TrainingJobEvent.seq)
            .limit(limit)
        )
        with self.db.session() as session:
            return list(session.scalars(query))
