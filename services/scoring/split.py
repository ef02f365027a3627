"""Deterministic splits: by time (latest rows held out) or stratified by outcome (same seed, same rows)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split


@dataclass(frozen=True)
class Split:
    """Row labels of the two parts, and how they were chosen."""

    train: pd.Index
    holdout: pd.Index
    method: str
    #: With a time split: the earliest time held out (every training row is at or before it).
    boundary: str | None = None


def time_split(times: pd.Series, fraction: float) -> Split:
    """Hold out the latest ``fraction`` of rows; ties keep the table's order (a stable sort)."""
    order = times.sort_values(kind="mergesort").index
    cut = len(order) - max(1, round(fraction * len(order)))
    boundary = times.loc[order[cut]]
    return Split(train=order[:cut], holdout=order[cut:], method="time", boundary=str(boundary))


def stratified_split(y: pd.Series, fraction: float, seed: int) -> Split:
    """A stratified draw of ``fraction`` of the rows; falls back to a plain draw when a class is tiny."""
    stratify = y if y.value_counts().min() >= 2 else None
    train, holdout = train_test_split(y.index, test_size=fraction, random_state=seed, stratify=stratify)
    return Split(train=pd.Index(np.sort(train)), holdout=pd.Index(np.sort(holdout)), method="stratified")


def split_rows(y: pd.Series, fraction: float, seed: int, times: pd.Series | None) -> Split:
    return time_split(times, fraction) if times is not None else stratified_split(y, fraction, seed)
