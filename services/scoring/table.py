"""From any table to model inputs: reading, target normalisation and automatic feature typing.

A column becomes one :class:`Feature` of kind ``numeric`` (numbers), ``boolean`` (true/false, yes/no) or
``categorical`` (a text column with few distinct values). Dates, identifiers, free text, empty and constant
columns are dropped, each with a note the training report keeps.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from services.common.errors import InvalidArgument, NotFound

FeatureKind = Literal["numeric", "boolean", "categorical"]

_POSITIVE = frozenset({"yes", "true", "1", "1.0", "won"})
_NEGATIVE = frozenset({"no", "false", "0", "0.0", "lost"})
_BOOLEAN_TEXT = {"yes": 1.0, "true": 1.0, "no": 0.0, "false": 0.0}
_BOOLEAN_VALUES = {**_BOOLEAN_TEXT, "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0}
#: Cell types :func:`encode_row` converts itself (after ``.item()`` on numpy scalars); others go through pandas.
_PLAIN_TYPES = frozenset({type(None), bool, int, float, str})
_INT64 = range(-(2**63), 2**63)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class Feature:
    name: str
    kind: FeatureKind
    #: The known values of a categorical feature, in the order the model encodes them.
    categories: tuple[str, ...] = ()

    @cached_property
    def codes(self) -> dict[str, int]:
        """Each known category's code: its position in ``categories``."""
        return {category: code for code, category in enumerate(self.categories)}


@dataclass
class FeaturePlan:
    """The features a model uses, and why every other column was left out."""

    features: list[Feature]
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file (by extension). Missing file → NotFound; unreadable or empty → InvalidArgument."""
    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise InvalidArgument(f"{path.name}: expected a .csv or .parquet file", field="data")
    if not path.is_file():
        raise NotFound(f"data file not found: {path}")
    try:
        frame = pd.read_csv(path) if kind == "csv" else pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise InvalidArgument(f"{path.name} is empty", field="data") from None
    except (ValueError, OSError, UnicodeDecodeError) as err:
        raise InvalidArgument(f"{path.name} could not be read as {kind}: {type(err).__name__}", field="data") from None
    if frame.empty:
        raise InvalidArgument(f"{path.name} has no rows", field="data")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def require_columns(frame: pd.DataFrame, columns: list[str], what: str = "column") -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(repr(c) for c in missing[:10])
        raise InvalidArgument(f"missing {what}{'s' if len(missing) > 1 else ''}: {shown}", field="data")


def parse_target(values: pd.Series) -> pd.Series:
    """Map yes/no, true/false, 1/0, won/lost (any case) to 1.0/0.0; missing stays NaN; anything else fails."""
    text = values.map(_as_text)
    positive, negative = text.isin(_POSITIVE), text.isin(_NEGATIVE)
    bad = text[text.notna() & ~positive & ~negative]
    if len(bad):
        examples = ", ".join(repr(v) for v in pd.unique(values[bad.index])[:5])
        raise InvalidArgument(
            f"target column {values.name!r} has values that are not yes/no, true/false, 1/0 or won/lost: {examples}",
            field="target",
        )
    out = pd.Series(np.nan, index=values.index, name=values.name)
    out[positive] = 1.0
    out[negative] = 0.0
    return out


def parse_times(values: pd.Series) -> pd.Series:
    """Order keys of a time column: numbers as they are, anything else parsed as dates. Gaps are errors."""
    if values.isna().any():
        raise InvalidArgument(f"time column {values.name!r} has {int(values.isna().sum())} empty values", field="time")
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return values
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    bad = values[parsed.isna()]
    if len(bad):
        examples = ", ".join(repr(v) for v in pd.unique(bad)[:3])
        raise InvalidArgument(f"time column {values.name!r} has values that are not dates: {examples}", field="time")
    return parsed


def plan_features(frame: pd.DataFrame, exclude: set[str], max_categories: int) -> FeaturePlan:
    """Type every column not in ``exclude``; drop what a model cannot use, with a note saying why."""
    plan = FeaturePlan(features=[])
    for name in frame.columns:
        if name in exclude:
            continue
        feature, note = _type_column(frame[name], max_categories)
        if feature is not None:
            plan.features.append(feature)
        else:
            plan.notes.append(f"column {name!r} dropped: {note}")
    if not plan.features:
        raise InvalidArgument("no usable feature columns left after dropping ids, dates, text and constants")
    return plan


def prepare_features(frame: pd.DataFrame, features: list[Feature]) -> pd.DataFrame:
    """The model's input matrix: numbers as float64, booleans as 0/1, categoricals with the trained categories."""
    require_columns(frame, [f.name for f in features], "feature column")
    columns = {}
    for feature in features:
        values = frame[feature.name]
        if feature.kind == "categorical":
            text = values.map(_as_category)
            known = text.where(text.isin(feature.categories))  # an unseen value counts as missing
            columns[feature.name] = pd.Categorical(known, categories=list(feature.categories))
        elif feature.kind == "boolean":
            columns[feature.name] = _as_boolean(values)
        else:
            columns[feature.name] = _as_number(values)
    return pd.DataFrame(columns, index=frame.index)


def encode_row(row: Mapping[str, Any], features: Sequence[Feature]) -> np.ndarray:
    """One row as the model's input matrix ``[1, features]`` (float64), without pandas.

    Numbers and booleans come out as :func:`prepare_features` makes them; a categorical as its code in
    ``feature.categories``, NaN when missing or unseen (how LightGBM encodes a pandas categorical, see
    :func:`encode_frame`). A feature missing from ``row`` is a missing value. Plain cells (None, bool, int, float,
    str, numpy scalars) are converted here; any other type, a number written as text and a value that does not
    convert send the row through :func:`prepare_features`, so values and errors are the same as there.
    """
    out = np.empty((1, len(features)))
    for j, feature in enumerate(features):
        value = _encode_plain(feature, row.get(feature.name))
        if value is None:
            frame = pd.DataFrame([{f.name: row.get(f.name, np.nan) for f in features}])
            return encode_frame(prepare_features(frame, list(features)), features)
        out[0, j] = value
    return out


def encode_frame(X: pd.DataFrame, features: Sequence[Feature]) -> np.ndarray:
    """The output of :func:`prepare_features` as a float64 matrix: categoricals as their codes, missing as NaN
    (what LightGBM's ``_data_from_pandas`` does with the categories it was trained on)."""
    columns = []
    for feature in features:
        if feature.kind == "categorical":
            codes = X[feature.name].cat.codes.to_numpy()
            columns.append(np.where(codes < 0, np.nan, codes.astype(float)))
        else:
            columns.append(X[feature.name].to_numpy(dtype=float))
    return np.column_stack(columns) if columns else np.empty((len(X), 0))


def _encode_plain(feature: Feature, value: object) -> float | None:
    """One cell as :func:`prepare_features` would encode it, or None to leave the cell to pandas."""
    if isinstance(value, np.generic):
        value = value.item()  # as pandas sees it: a float32 as the float64 it widens to
    if type(value) not in _PLAIN_TYPES or (type(value) is int and value not in _INT64):
        return None
    if feature.kind == "categorical":
        text = _as_category(value)
        code = feature.codes.get(text) if isinstance(text, str) else None
        return np.nan if code is None else float(code)
    if feature.kind == "boolean":
        truth = _as_text(value)
        return np.nan if truth is None else _BOOLEAN_VALUES.get(truth)
    if isinstance(value, int | float):  # bool included, as True → 1.0
        return float(value)
    return np.nan if value is None else None  # text: pd.to_numeric's rules decide


def _type_column(values: pd.Series, max_categories: int) -> tuple[Feature | None, str]:
    name = str(values.name)
    present = values.dropna()
    if present.empty:
        return None, "empty"
    if pd.api.types.is_bool_dtype(values):
        return Feature(name, "boolean"), ""
    if pd.api.types.is_datetime64_any_dtype(values):
        return None, "a date (derive e.g. days since it to use it)"
    if pd.api.types.is_numeric_dtype(values):
        return (Feature(name, "numeric"), "") if present.nunique() > 1 else (None, "constant")
    text = present.map(_as_category)
    if text.str.lower().isin(_BOOLEAN_TEXT.keys()).all():
        return Feature(name, "boolean"), ""
    if text.str.match(_ISO_DATE).mean() >= 0.9:
        return None, "a date (derive e.g. days since it to use it)"
    distinct = text.nunique()
    if distinct > max_categories or (distinct > 10 and distinct > 0.5 * len(text)):
        return None, f"free text or identifier ({distinct} distinct values)"
    if distinct < 2:
        return None, "constant"
    return Feature(name, "categorical", tuple(sorted(text.unique()))), ""


def _as_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value).strip().lower()


def _as_category(value: object) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    return str(value).strip()


def _as_boolean(values: pd.Series) -> pd.Series:
    text = values.map(_as_text)
    mapped = text.map(_BOOLEAN_VALUES.get)
    bad = values[text.notna() & mapped.isna()]
    if len(bad):
        raise InvalidArgument(f"column {values.name!r}: expected true/false or yes/no, found {bad.iloc[0]!r}")
    return mapped.astype("float64")


def _as_number(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values[numbers.isna() & values.notna()]
    if len(bad):
        raise InvalidArgument(f"column {values.name!r}: expected numbers, found {bad.iloc[0]!r}")
    return numbers.astype("float64")
