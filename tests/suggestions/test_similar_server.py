"""The similar-situation index against a Qdrant *server* (by URL, with an API key): the fake of ``tests/fakes``,
as no real server runs here. Erasure behaves the same in embedded and server mode; writes wait and index the
filtered keys; a second client sees what the first stored; a wrong key is refused."""

from __future__ import annotations

import uuid

import pytest
from qdrant_client import models
from qdrant_client.http.exceptions import UnexpectedResponse

from services.suggestions.similar import PastCase, SimilarSituations

from ..fakes.qdrant_server import Collection, FakeQdrant
from .conftest import QDRANT_KEY
from .test_similar import ACME_CASES

pytestmark = pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection:UserWarning")

CUSTOMER_CASES = [
    PastCase("c1", "Budget is frozen until next quarter.", "won", "L1", customer_id="cust-1"),
    PastCase("c2", "Can you send the price list?", "won", "L1", customer_id="cust-1"),
    PastCase("c3", "We would like a live demo.", "won", "L2", customer_id="cust-2"),
    PastCase("c4", "Do you support single sign-on?", "lost", "L3", customer_id="cust-3"),
]


def remote(fake: FakeQdrant, encoder, *, api_key: str | None = QDRANT_KEY, collection: str = "") -> SimilarSituations:
    """A client of the fake server; its own collection unless told, so tests do not see each other's points."""
    return SimilarSituations.remote(fake.url, encoder, api_key=api_key, collection=collection or uuid.uuid4().hex)


@pytest.fixture(params=["embedded", "server"])
def fresh(request: pytest.FixtureRequest, encoder, tmp_path) -> SimilarSituations:
    """An empty index, embedded or on the fake server."""
    if request.param == "server":
        store = remote(request.getfixturevalue("fake_qdrant"), encoder)
    else:
        store = SimilarSituations.local(str(tmp_path / "qdrant"), encoder)
    yield store
    store.close()


def _ids(store: SimilarSituations, tenant_id: str) -> set[str]:
    return {c.case_id for c in store.search(tenant_id, "budget", limit=100, outcome=None)}


def test_forget_by_case_ids_and_by_customer(fresh: SimilarSituations) -> None:
    assert fresh.forget("acme", case_ids=["c1"]) == 0  # no collection yet
    assert fresh.add("acme", CUSTOMER_CASES) == 4
    assert fresh.add("globex", CUSTOMER_CASES[:1]) == 1  # same case id and customer id, another tenant
    assert fresh.forget("acme", case_ids=["c2", "c4", "nope"]) == 2
    assert _ids(fresh, "acme") == {"c1", "c3"}
    assert fresh.forget("acme", customer_id="cust-1") == 1
    assert _ids(fresh, "acme") == {"c3"}
    assert fresh.forget("acme", case_ids=["c3"], customer_id="cust-9") == 1  # either one selects a point
    assert _ids(fresh, "acme") == set()
    assert fresh.forget("acme") == 0  # nothing named: nothing deleted
    assert _ids(fresh, "globex") == {"c1"}  # the other tenant's point survives every call
    assert sorted(fresh.cases()) == [("globex", "c1")]


def test_writes_wait_and_the_filtered_keys_are_indexed(fake_qdrant: FakeQdrant, encoder) -> None:
    store = remote(fake_qdrant, encoder)
    store.add("acme", CUSTOMER_CASES)
    store.forget("acme", customer_id="cust-3")
    writes = [w for w in fake_qdrant.writes if f"/collections/{store.collection}/" in w[0]]
    assert len(writes) == 4 + 1 + 1  # four payload indexes, one upsert, one delete
    assert all(wait for _, wait in writes)  # a search right after a write sees it
    collection = fake_qdrant.collections[store.collection]
    assert collection.indexes == dict.fromkeys(("tenant_id", "outcome", "case_id", "customer_id"), "keyword")
    assert collection.size == 384 and collection.distance == "Cosine"
    store.close()


def test_upserts_are_idempotent_and_another_client_sees_them(fake_qdrant: FakeQdrant, encoder) -> None:
    first = remote(fake_qdrant, encoder)
    assert first.search("acme", "budget") == []  # no collection yet
    first.add("acme", ACME_CASES)
    first.add("acme", ACME_CASES)
    first.close()
    second = remote(fake_qdrant, encoder, collection=first.collection)
    assert len(second.search("acme", "budget", limit=100, outcome=None)) == len(ACME_CASES)
    found = second.search("acme", "Sorry, budget is frozen until next quarter.", limit=2, min_score=0.5)
    assert [c.case_id for c in found][:1] == ["a-budget"] and all(c.score >= 0.5 for c in found)
    paged = list(second.cases(batch=2))  # three pages through the scroll offset
    assert sorted(paged) == sorted(("acme", c.case_id) for c in ACME_CASES)
    second.close()


def test_replicas_racing_to_create_the_collection_both_store(fake_qdrant: FakeQdrant, encoder) -> None:
    """Leads replicas share the server: another one creates the collection between our check and our create."""
    store = remote(fake_qdrant, encoder)
    name = store.collection
    fake_qdrant.before[("PUT", f"/collections/{name}")] = lambda: fake_qdrant.collections.setdefault(
        name, Collection(384, models.Distance.COSINE)
    )
    assert store.add("acme", ACME_CASES[:2]) == 2  # the server answers 409 "already exists": that is fine
    assert {c.case_id for c in store.search("acme", "budget", limit=10, outcome=None)} == {"a-budget", "a-budget-lost"}
    assert set(fake_qdrant.collections[name].indexes) == {"tenant_id", "outcome", "case_id", "customer_id"}
    store.close()


@pytest.mark.parametrize("api_key", ["wrong-key", None], ids=["wrong", "missing"])
def test_a_wrong_api_key_is_refused(fake_qdrant: FakeQdrant, encoder, api_key: str | None) -> None:
    good = remote(fake_qdrant, encoder)
    good.add("acme", ACME_CASES[:1])
    bad = remote(fake_qdrant, encoder, api_key=api_key, collection=good.collection)
    with pytest.raises(UnexpectedResponse) as refused:
        bad.add("acme", ACME_CASES[1:2])
    assert refused.value.status_code == 401
    with pytest.raises(UnexpectedResponse):
        bad.search("acme", "budget")
    assert len(good.search("acme", "budget", limit=10, outcome=None)) == 1  # nothing was written
    bad.close()
    good.close()
