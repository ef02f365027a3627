"""A won lead's messages reach the similar-situation index even when the vector store fails the first time."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.errors import Unavailable
from services.leads.config import LeadsSettings
from services.leads.server import create_core
from services.leads.store import LeadUpsert

from .conftest import redactor  # noqa: F401 - shared fixture
from .test_service import _store_messages


class FailingOnce:
    """The real index, refusing its first write as an unreachable server would."""

    def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
        self.real, self.failed = real, False

    def add(self, tenant_id, cases):  # type: ignore[no-untyped-def]
        if not self.failed:
            self.failed = True
            raise Unavailable("the vector store is unreachable")
        return self.real.add(tenant_id, cases)

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.real, name)


def test_a_failed_index_saves_nothing_and_the_retry_does_both(
    migrated_url: str,
    data_dir: Path,
    encoder,
    redactor,  # noqa: F811
) -> None:
    settings = LeadsSettings(data_dir=data_dir, database_url=migrated_url, qdrant_path=data_dir / "qdrant")
    core, db, executor = create_core(settings, encoder=encoder, redactor=redactor)
    try:
        ids = _store_messages(migrated_url, "acme", "L-won", ["预算批下来了，我们签吧", "合同今天发过来"])
        core.upsert(LeadUpsert(tenant_id="acme", lead_id="L-won"))
        real = core.similar
        core.similar = FailingOnce(real)  # type: ignore[assignment]
        with pytest.raises(Unavailable):
            core.record_outcome("acme", "L-won", "won")
        assert core.get("acme", "L-won").outcomes == ()  # nothing saved: the caller retries
        lead, created, indexed = core.record_outcome("acme", "L-won", "won")
        assert created and indexed == 2 and [o.outcome for o in lead.outcomes] == ["won"]
        assert {c.case_id for c in real.search("acme", "预算批了", limit=5)} == set(ids)
        _, again, reindexed = core.record_outcome("acme", "L-won", "won")
        assert not again and reindexed == 0
        with pytest.raises(Exception, match="cannot also be lost"):
            core.record_outcome("acme", "L-won", "lost")
        assert all(c.outcome == "won" for c in real.search("acme", "预算", limit=5, outcome=None))
    finally:
        executor.shutdown(wait=True)
        core.similar.close()
        db.dispose()
