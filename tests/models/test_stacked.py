"""Stacked upper layers: several tasks in one batched computation give each task exactly its own layers' answer."""

from __future__ import annotations

import copy
import gc

import pytest
import torch

from models.artifacts import load_task_model, read_artifact
from models.registry import PRETRAINED_DIR
from models.runtime import _predict, _predict_group, _run_member, classify
from models.stacked import StackCache, StackedLayers, stackable

TEXTS = [
    "我们预算冻结了，报价先别发了",
    "Could you send the pricing for 50 seats? We're comparing you with <ORG_1>.",
    "下周二方便安排个demo吗",
    "Please unsubscribe me from this list",
]


@pytest.fixture(scope="module")
def tasks(encoder, small_artifact):
    return [
        load_task_model(read_artifact(PRETRAINED_DIR / "intent"), encoder),
        load_task_model(read_artifact(PRETRAINED_DIR / "risk"), encoder),
        load_task_model(small_artifact, encoder),
    ]


def _reference(encoder, models, texts, explain):
    """Each model on its own HF modules, one after the other."""
    batch = encoder.tokenize(texts)[0]
    shared = encoder.lower(batch)
    return [_predict(encoder, m, batch, shared, texts, explain, 3) for m in models]


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("texts", [TEXTS[:1], TEXTS], ids=["one text", "packed texts"])
def test_stacked_tasks_equal_their_own_layers(encoder, tasks, count, texts):
    models = tasks[:count]
    assert encoder.stacked(models) is not None
    for explain in (False, True):
        batch = encoder.tokenize(texts)[0]
        stacked = _predict_group(encoder, models, batch, encoder.lower(batch), texts, explain, 3)
        for own, together in zip(_reference(encoder, models, texts, explain), stacked, strict=True):
            for a, b in zip(own, together, strict=True):
                assert a.label == b.label and a.model_version == b.model_version
                for label, p in a.probabilities.items():
                    assert b.probabilities[label] == pytest.approx(p, abs=1e-5)
                assert [(s.start, s.end) for s in a.evidence] == [(s.start, s.end) for s in b.evidence]
                for s, t in zip(a.evidence, b.evidence, strict=True):
                    assert t.weight == pytest.approx(s.weight, abs=1e-3)


@pytest.mark.parametrize("explain", [False, True])
def test_the_embedder_beside_the_tasks_changes_nothing_and_equals_embed(encoder, tasks, explain):
    """One pass gives the tasks' predictions unchanged and each text's sentence embedding, equal to ``embed``."""
    from models.runtime import Embedding, classify_many

    intent, risk, _ = tasks
    with_vectors = classify_many(encoder, [([intent, risk, encoder.embedder], TEXTS)], explain=explain)[0]
    without = classify(encoder, [intent, risk], TEXTS, explain=explain)
    expected = encoder.embed(TEXTS)
    for row, plain, vector in zip(with_vectors, without, expected, strict=True):
        assert [(p.label, p.evidence) for p in row[:2]] == [(p.label, p.evidence) for p in plain]
        for a, b in zip(row[:2], plain, strict=True):
            assert a.confidence == pytest.approx(b.confidence, abs=1e-5)
        assert isinstance(row[2], Embedding) and row[2].model == encoder.embedding_model
        assert torch.allclose(torch.tensor(row[2].values), vector, atol=1e-5, rtol=0)
    # where layers are not stacked, the embedder runs the library's own modules, with the same result
    batch = encoder.tokenize(TEXTS)[0]
    alone = _run_member(encoder, encoder.embedder, batch, encoder.lower(batch), TEXTS, explain, 3)
    assert torch.allclose(torch.tensor([e.values for e in alone]), expected, atol=1e-5, rtol=0)


def test_classify_runs_tasks_asked_on_different_texts_separately(encoder, tasks):
    """Requests asking for different models share the lower pass; each model still sees only its texts."""
    from models.runtime import classify_many

    intent, risk, small = tasks
    out = classify_many(encoder, [([intent, risk], TEXTS[:2]), ([small], TEXTS[2:])], explain=False)
    assert [[p.task for p in row] for row in out[0]] == [["intent", "risk"]] * 2
    assert [[p.task for p in row] for row in out[1]] == [["small_intent"]] * 2
    alone = classify(encoder, [small], TEXTS[2:], explain=False)
    for a, b in zip(alone, out[1], strict=True):
        assert a[0].label == b[0].label
        assert a[0].confidence == pytest.approx(b[0].confidence, abs=1e-5)


def test_the_cache_keeps_one_stack_per_group_and_never_confuses_an_unloaded_model(encoder, tasks):
    cache = StackCache(encoder.config, capacity=2)
    intent, risk, small = tasks
    first = cache.get([intent, risk], [intent.layers, risk.layers])
    assert cache.get([intent, risk], [intent.layers, risk.layers]) is first
    cache.get([small], [small.layers])
    cache.get([risk], [risk.layers])  # beyond capacity: the least recently used group goes
    assert len(cache) == 2
    assert cache.get([intent, risk], [intent.layers, risk.layers]) is not first

    gone = copy.deepcopy(small)
    held = cache.get([gone], [gone.layers])
    refs = cache._entries[(id(gone),)][0]
    del gone
    gc.collect()
    # an unloaded model's id may be reused by the next one: stage exactly that, an entry under the newcomer's id
    # whose weak references are dead — the newcomer must get its own stack, never the unloaded model's
    newcomer = copy.deepcopy(small)
    cache._entries[(id(newcomer),)] = (refs, held)
    assert refs[0]() is None
    assert cache.get([newcomer], [newcomer.layers]) is not held


def test_other_architectures_run_their_own_modules(encoder, tasks):
    config = copy.deepcopy(encoder.config)
    config.hidden_act = "relu"
    assert stackable(tasks[0].layers, encoder.config)
    assert not stackable(tasks[0].layers, config)
    assert not stackable(torch.nn.ModuleList([torch.nn.Linear(4, 4)]), encoder.config)


def test_stacked_layers_match_a_plain_layer_on_random_states(encoder, tasks):
    """Bit for bit in float32 against the library's own BertLayer, with a block-diagonal mask."""
    intent = tasks[0]
    hidden = torch.randn(1, 12, encoder.config.hidden_size)
    segment = torch.tensor([0] * 5 + [1] * 7)
    mask = (segment[:, None] == segment[None, :])[None, None]
    with torch.inference_mode():
        expected = encoder.run_upper(intent.layers, hidden, mask)
        got = StackedLayers([intent.layers], encoder.config)(hidden, mask)
    assert torch.allclose(got, expected, atol=1e-5, rtol=0)


def test_sentence_embeddings_equal_the_library_modules(encoder):
    texts = ["预算冻结了", "Could we see a demo next week?"]
    got = encoder.embed(texts, prefix="query: ")
    expected = []
    for batch in encoder.tokenize(["query: " + t for t in texts]):
        with torch.inference_mode():
            hidden = encoder.run_upper(encoder.layers[encoder.split :], encoder.lower(batch), batch.mask)
        expected.append(batch.mean(hidden))
    assert torch.allclose(got, torch.cat(expected), atol=1e-5, rtol=0)
