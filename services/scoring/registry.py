"""File-based versions of scoring models, with a ``current`` pointer that can be moved back.

    <data_dir>/scoring/<name>/
        v1/  model.joblib  metadata.json  metrics.json
        v2/  ...
        current            # "v2"

A version folder is written under a temporary name and renamed into place, and ``current`` is replaced
atomically, so a reader never sees half a version. Model files are pickles: load only folders this
registry wrote.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import joblib

from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.scoring.model import ScoringModel, TrainResult

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VERSION = re.compile(r"^v(\d+)$")


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: str
    current: bool
    metadata: dict[str, Any]


class ScoringRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root

    def register(self, name: str, result: TrainResult, data: dict[str, Any]) -> VersionInfo:
        """Save a trained model as the next version of ``name`` and make it current."""
        folder = self._folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        staging = folder / f".staging-{uuid.uuid4().hex}"
        staging.mkdir()
        metadata = _metadata(name, result, data)
        joblib.dump(result.model, staging / "model.joblib")
        (staging / "metrics.json").write_text(json.dumps(result.report, indent=2, ensure_ascii=False))
        for _ in range(100):
            version = f"v{self._latest_number(name) + 1}"
            metadata["version"] = version
            (staging / "metadata.json").write_text(json.dumps(metadata, indent=2, ensure_ascii=False))
            try:
                staging.rename(folder / version)
                break
            except OSError:  # another writer took this number; take the next one
                continue
        else:
            raise FailedPrecondition(f"could not claim a version folder under {folder}")
        self._point(name, version)
        return VersionInfo(name, version, True, metadata)

    def versions(self, name: str) -> list[VersionInfo]:
        """Every version of ``name``, oldest first."""
        current = self.current(name)
        return [
            VersionInfo(name, v, v == current, json.loads((self._folder(name) / v / "metadata.json").read_text()))
            for v in self._version_names(name)
        ]

    def current(self, name: str) -> str | None:
        pointer = self._folder(name) / "current"
        return pointer.read_text().strip() if pointer.is_file() else None

    def load(self, name: str, version: str | None = None) -> tuple[ScoringModel, dict[str, Any]]:
        """The model and metadata of ``version`` (default: the current one)."""
        version = version or self.current(name)
        if version is None:
            raise NotFound(f"no scoring model named {name!r}; train one with `salesai scoring train`")
        folder = self._folder(name) / version
        if not (folder / "model.joblib").is_file():
            raise NotFound(f"scoring model {name!r} has no version {version}")
        metadata = json.loads((folder / "metadata.json").read_text())
        return joblib.load(folder / "model.joblib"), metadata

    def revert(self, name: str) -> tuple[str, str]:
        """Move ``current`` to the version before it; returns ``(previous current, new current)``."""
        current = self.current(name)
        if current is None:
            raise NotFound(f"no scoring model named {name!r}")
        older = [v for v in self._version_names(name) if _number(v) < _number(current)]
        if not older:
            raise FailedPrecondition(f"{name} {current} is the oldest version; there is nothing to revert to")
        self._point(name, older[-1])
        return current, older[-1]

    def _folder(self, name: str) -> Path:
        if not _NAME.match(name):
            raise InvalidArgument("model name: use letters, digits, '.', '_' or '-' (at most 64)", field="name")
        return self.root / name

    def _version_names(self, name: str) -> list[str]:
        folder = self._folder(name)
        found = [p.name for p in folder.iterdir() if p.is_dir() and _VERSION.match(p.name)] if folder.is_dir() else []
        return sorted(found, key=_number)

    def _latest_number(self, name: str) -> int:
        names = self._version_names(name)
        return _number(names[-1]) if names else 0

    def _point(self, name: str, version: str) -> None:
        pointer = self._folder(name) / "current"
        temporary = pointer.with_name(f".current-{uuid.uuid4().hex}")
        temporary.write_text(version + "\n")
        os.replace(temporary, pointer)


def _number(version: str) -> int:
    match = _VERSION.match(version)
    return int(match.group(1)) if match else -1


def _metadata(name: str, result: TrainResult, data: dict[str, Any]) -> dict[str, Any]:
    model, report = result.model, result.report
    holdout = report["holdout"]
    return {
        "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model.kind,
        "fallback": report["fallback"],
        "target": model.config.target,
        "time_column": model.config.time_column,
        "id_column": model.config.id_column,
        "features": [asdict(f) for f in model.features],
        "threshold": model.threshold,
        "data": data,
        "metrics": {k: holdout[k] for k in ("rows", "auc", "f1", "brier", "lift_top_decile")},
        "notes": report["notes"],
        "libraries": {p: package_version(p) for p in ("lightgbm", "scikit-learn", "pandas")},
    }
