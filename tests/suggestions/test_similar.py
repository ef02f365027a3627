"""Similar past situations with real E5 embeddings in embedded Qdrant and in a Qdrant server (the fake one of
``tests/fakes``): closest won case first, tenants isolated."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.suggestions import LeadContext, SuggestionEngine, load_playbook
from services.suggestions.similar import PastCase, SimilarSituations

from .conftest import QDRANT_KEY

pytestmark = pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection:UserWarning")

ACME_CASES = [
    PastCase(
        "a-budget", "Our budget got frozen this quarter, can we revisit in spring?", "won", "L1", "sent ROI case study"
    ),
    PastCase("a-budget-lost", "Budget is frozen and we are stopping all new projects.", "lost", "L2"),
    PastCase("a-demo", "Could you show us a live demo of the reporting module?", "won", "L3"),
    PastCase("a-price", "预算有限，你们的价格太贵了，能便宜一点吗？", "won", "L4"),
    PastCase("a-security", "Do you support single sign-on and SOC 2 reports?", "won", "L5"),
]
GLOBEX_CASES = [PastCase("g-budget", "Our budget is frozen until next quarter.", "won", "G1")]


@pytest.fixture(scope="module", params=["embedded", "server"])
def situations(request: pytest.FixtureRequest, encoder, tmp_path_factory) -> SimilarSituations:
    if request.param == "server":
        store = SimilarSituations.remote(request.getfixturevalue("fake_qdrant").url, encoder, api_key=QDRANT_KEY)
    else:
        store = SimilarSituations.local(str(tmp_path_factory.mktemp("qdrant")), encoder)
    assert store.add("acme", ACME_CASES) == len(ACME_CASES)
    assert store.add("globex", GLOBEX_CASES) == 1
    yield store
    store.close()


def test_the_semantically_closest_won_case_comes_first(situations: SimilarSituations) -> None:
    found = situations.search("acme", "Sorry, budget is frozen until next quarter.", limit=3)
    assert found[0].case_id == "a-budget" and found[0].note == "sent ROI case study"
    assert all(c.outcome == "won" for c in found)  # the lost budget case is never cited
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    assert situations.search("acme", "价格太高了，能不能打个折？", limit=1)[0].case_id == "a-price"
    assert situations.search("acme", "Can we get a product demo next week?", limit=1)[0].case_id == "a-demo"


def test_tenants_never_see_each_other(situations: SimilarSituations) -> None:
    acme = situations.search("acme", "Our budget is frozen until next quarter.", limit=10, outcome=None)
    assert {c.case_id for c in acme} == {c.case_id for c in ACME_CASES}
    globex = situations.search("globex", "Could you show us a demo?", limit=10, outcome=None)
    assert [c.case_id for c in globex] == ["g-budget"]
    assert situations.search("initech", "anything", limit=10) == []


def test_upserts_are_idempotent_and_persist(encoder, tmp_path: Path) -> None:
    path = str(tmp_path / "q")
    store = SimilarSituations.local(path, encoder)
    store.add("acme", ACME_CASES[:2])
    store.add("acme", ACME_CASES[:2])
    store.close()
    reopened = SimilarSituations.local(path, encoder)
    assert len(reopened.search("acme", "budget", limit=10, outcome=None)) == 2
    reopened.close()


def test_the_engine_cites_similar_won_cases(situations: SimilarSituations, make_interaction, now) -> None:

    engine = SuggestionEngine(load_playbook(), similar=situations, similar_limit=2)
    msg = make_interaction("m9", "Budget frozen for now, let's talk next quarter.", hours_ago=1, intent="budget_freeze")
    suggestions = engine.suggest(LeadContext(tenant_id="acme", lead_id="l9"), [msg], now=now)
    cited = suggestions[0].evidence.similar
    assert len(cited) == 2 and cited[0].case_id == "a-budget" and cited[0].outcome == "won"


class CountingSearch:
    """Delegates to the real store and counts the searches (each one embeds the message)."""

    def __init__(self, store: SimilarSituations) -> None:
        self.store, self.calls = store, 0

    def search(self, tenant_id: str, text: str, **kwargs):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.store.search(tenant_id, text, **kwargs)


def test_rules_firing_on_one_message_search_it_once(situations: SimilarSituations, make_interaction, now) -> None:
    """budget_freeze and high_risk both rest on the latest message: one embedding and search, cited by both."""
    counting = CountingSearch(situations)
    engine = SuggestionEngine(load_playbook(), similar=counting, similar_limit=2)
    msg = make_interaction(
        "m10", "Budget frozen, we may cancel the project.", hours_ago=1, intent="budget_freeze", risk="high"
    )
    suggestions = engine.suggest(LeadContext(tenant_id="acme", lead_id="l10"), [msg], now=now)
    rules = {s.rule for s in suggestions}
    assert {"budget_freeze", "high_risk"} <= rules
    assert counting.calls == 1
    assert all(s.evidence.similar and s.evidence.similar[0].case_id == "a-budget" for s in suggestions)


class NoEmbedding:
    """The real encoder, except that embedding a text fails: proves a search used the vector it was given."""

    def __init__(self, encoder) -> None:  # type: ignore[no-untyped-def]
        self.embedding_model = encoder.embedding_model

    def embed(self, texts, prefix: str = ""):  # type: ignore[no-untyped-def]
        raise AssertionError("the search embedded the text again")


def test_a_vector_from_the_classification_pass_replaces_embedding_again(situations: SimilarSituations, encoder) -> None:
    """Classify with the embedder gives the vector ``embed`` gives; a search with it needs no encoder pass."""
    from models.artifacts import load_task_model, read_artifact
    from models.registry import PRETRAINED_DIR
    from models.runtime import Embedding, classify_many

    tasks = [load_task_model(read_artifact(PRETRAINED_DIR / name), encoder) for name in ("intent", "risk")]

    text = "Sorry, budget is frozen until next quarter."
    outputs = classify_many(encoder, [([*tasks, encoder.embedder], [text])], explain=True)[0][0]
    vector = outputs[-1]
    assert isinstance(vector, Embedding) and vector.model == encoder.embedding_model
    assert max(abs(a - b) for a, b in zip(vector.values, encoder.embed([text])[0].tolist(), strict=True)) < 1e-5
    expected = situations.search("acme", text, limit=3)
    blind = SimilarSituations(situations.client, NoEmbedding(encoder), collection=situations.collection)
    assert blind.accepts(vector.model) and not blind.accepts("another-encoder:mean") and not blind.accepts("")
    assert blind.search("acme", text, limit=3, vector=vector.values) == expected
