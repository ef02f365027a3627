"""Which sentence embeddings find similar past messages best: E5's asymmetric ``query:``/``passage:`` prefixes, the
symmetric prefix-free vectors that a classification pass computes beside its tasks, and (for comparison) pooling
the shared lower layers alone, which would cost nothing extra but is weaker.

On the bundled intent data every test message is a query and the training messages are the index; a retrieved
message counts as similar when it has the query's intent. Printed: the share of the 3 nearest messages with the
query's intent, and of the single nearest.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/similar_retrieval_bench.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from models.encoder import BaseEncoder  # noqa: E402
from training.data import Example, read_examples  # noqa: E402
from training.seed import DATA_DIR  # noqa: E402


def embed(encoder: BaseEncoder, rows: list[Example], prefix: str, shared_only: bool = False) -> torch.Tensor:
    if not shared_only:
        return torch.cat(
            [encoder.embed([e.text for e in rows[i : i + 64]], prefix=prefix) for i in range(0, len(rows), 64)]
        )
    out = []
    for batch in encoder.tokenize([prefix + e.text for e in rows]):
        with torch.inference_mode():
            out.append(batch.mean(encoder.lower(batch)))
    return torch.cat(out)


def agreement(
    queries: torch.Tensor, index: torch.Tensor, test: list[Example], train: list[Example]
) -> dict[str, float]:
    nearest = (queries @ index.T).topk(3, dim=1).indices.tolist()
    top3 = sum(sum(train[j].label == test[i].label for j in row) / 3 for i, row in enumerate(nearest)) / len(test)
    top1 = sum(train[row[0]].label == test[i].label for i, row in enumerate(nearest)) / len(test)
    return {"same_intent_in_top3": round(top3, 4), "same_intent_top1": round(top1, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    examples = read_examples(DATA_DIR / "intent.jsonl")
    train = [e for e in examples if e.split == "train"]
    test = [e for e in examples if e.split == "test"]
    encoder = BaseEncoder(None, precision="fp32")
    configurations = {
        "query: / passage: (E5's asymmetric pair)": ("query: ", "passage: ", False),
        "no prefix / no prefix (the classification pass)": ("", "", False),
        "no prefix / passage: (an index built with prefixes)": ("", "passage: ", False),
        "shared layers pooled, no prefix": ("", "", True),
    }
    result = {"queries": len(test), "index": len(train)}
    for name, (query, passage, shared) in configurations.items():
        result[name] = agreement(
            embed(encoder, test, query, shared), embed(encoder, train, passage, shared), test, train
        )
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
