"""Build the default tasks' data files from the hand-written seed messages.

``training/data/seed/<intent>.jsonl`` holds ``{"text", "lang", "risk"}`` per message; this writes
``training/data/intent.jsonl`` and ``training/data/risk.jsonl`` (``text, label, split, lang``) with the same
train/dev/test split for both tasks, stratified by intent and language. Run ``python -m training.seed``
after editing the seed files (a test checks the built files are current).
"""

from __future__ import annotations

import json
from pathlib import Path

from training.data import Example, assign_splits, write_examples

DATA_DIR = Path(__file__).with_name("data")
SEED_DIR = DATA_DIR / "seed"
SEED = 13


def seed_messages(seed_dir: Path = SEED_DIR) -> list[dict[str, str]]:
    rows = []
    for path in sorted(seed_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                rows.append({"text": row["text"], "lang": row["lang"], "risk": row["risk"], "intent": path.stem})
    return rows


def build(seed_dir: Path = SEED_DIR) -> tuple[list[Example], list[Example]]:
    rows = seed_messages(seed_dir)
    intent = assign_splits(
        [Example(r["text"], r["intent"], "", r["lang"]) for r in rows],
        seed=SEED,
        dev=0.1,
        test=0.2,
        strata="label+lang",
    )
    risk = [Example(r["text"], r["risk"], e.split, r["lang"]) for r, e in zip(rows, intent, strict=True)]
    return intent, risk


def main() -> None:
    intent, risk = build()
    write_examples(DATA_DIR / "intent.jsonl", intent)
    write_examples(DATA_DIR / "risk.jsonl", risk)
    print(f"wrote {len(intent)} examples to intent.jsonl and risk.jsonl")


if __name__ == "__main__":
    main()
