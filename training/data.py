"""Training data: JSON lines with ``text`` and ``label`` (optional ``split``, ``lang``), checked line by line.

A row may also name where it came from: ``item_id`` (a workbench item: snapshot rows carry it) and
``interaction_id`` (the stored message the item was loaded from). They travel with the example into the files a
version keeps (its test split, the worst errors of its report), so erasing a customer can find their rows
(:mod:`training.jobs.erasure`); they play no part in training, splitting or :func:`data_hash`.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from services.common.errors import InvalidArgument

SPLITS = ("train", "dev", "test")
MAX_TEXT_CHARS = 20_000
#: optional fields that trace a row back to its source (kept when present, written only when set)
SOURCE_FIELDS = ("item_id", "interaction_id")


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    split: str = ""
    lang: str = ""
    item_id: str = ""
    interaction_id: str = ""

    @property
    def source(self) -> dict[str, str]:
        """The ids this example was traced back to (only those that are set)."""
        return {name: value for name in SOURCE_FIELDS if (value := getattr(self, name))}


def read_examples(path: Path) -> list[Example]:
    """Every line must be a JSON object with a non-empty string ``text`` and ``label``; errors name the line."""
    path = Path(path)
    if not path.is_file():
        raise InvalidArgument(f"data file {str(path)!r} does not exist", field="data")
    examples: list[Example] = []
    problems: list[str] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as error:
                problems.append(f"line {number}: invalid UTF-8 at byte {error.start}")
                continue
            except json.JSONDecodeError as error:
                problems.append(f"line {number}: invalid JSON ({error.msg})")
                continue
            if not isinstance(record, dict):
                problems.append(f"line {number}: not a JSON object")
                continue
            text, label, split = record.get("text"), record.get("label"), record.get("split", "")
            if not isinstance(text, str) or not text.strip():
                problems.append(f'line {number}: "text" must be a non-empty string')
            elif len(text) > MAX_TEXT_CHARS:
                problems.append(f"line {number}: text longer than {MAX_TEXT_CHARS} characters")
            elif not isinstance(label, str) or not label.strip():
                problems.append(f'line {number}: "label" must be a non-empty string')
            elif split not in ("", *SPLITS):
                problems.append(f'line {number}: "split" must be one of {", ".join(SPLITS)}')
            else:
                examples.append(Example(text, label.strip(), split, str(record.get("lang", "")), **_source(record)))
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise InvalidArgument(f"{path.name}: {len(problems)} bad line(s): {shown}", field="data")
    if not examples:
        raise InvalidArgument(f"{path.name} holds no examples", field="data")
    return examples


def _source(record: dict[str, object]) -> dict[str, str]:
    return {name: value for name in SOURCE_FIELDS if isinstance(value := record.get(name), str) and value}


def _rank(text: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()


def assign_splits(
    examples: Iterable[Example], *, seed: int = 13, dev: float = 0.1, test: float = 0.1, strata: str = "label"
) -> list[Example]:
    """Give every example without a split one, stratified by ``label`` (or ``label+lang``), deterministically."""
    examples = list(examples)
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        if not example.split:
            key = (example.label, example.lang) if strata == "label+lang" else (example.label,)
            groups[key].append(index)
    out = list(examples)
    for indices in groups.values():
        indices.sort(key=lambda i: _rank(examples[i].text, seed))
        n = len(indices)
        n_test = round(n * test) if n >= 5 else 0
        n_dev = round(n * dev) if n >= 5 else 0
        for position, index in enumerate(indices):
            split = "test" if position < n_test else "dev" if position < n_test + n_dev else "train"
            out[index] = replace(examples[index], split=split)
    return out


def by_split(examples: Iterable[Example]) -> dict[str, list[Example]]:
    out: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for example in examples:
        out[example.split or "train"].append(example)
    return out


def data_hash(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256()
    for e in sorted(examples, key=lambda e: (e.split, e.label, e.text)):
        digest.update(json.dumps([e.text, e.label, e.split], ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def write_examples(path: Path, examples: Iterable[Example]) -> None:
    lines = []
    for e in examples:
        record = {"text": e.text, "label": e.label, "split": e.split}
        if e.lang:
            record["lang"] = e.lang
        record.update(e.source)
        lines.append(json.dumps(record, ensure_ascii=False))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
