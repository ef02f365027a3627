"""Knobs of one scoring training run. Defaults suit a CRM table of hundreds to a few hundred thousand rows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    """How a table becomes a scoring model. Every field has a safe default; invalid combinations fail early."""

    #: Column holding the outcome (yes/no, true/false, 1/0 or won/lost; case-insensitive).
    target: str
    #: Column ordering the rows in time; when set, the latest ``holdout_fraction`` of rows is held out.
    time_column: str | None = None
    #: Column identifying a row (echoed by ``predict``); never used as a feature.
    id_column: str | None = None
    #: Share of rows held out for the report (the latest ones with a time column, else a stratified draw).
    holdout_fraction: float = 0.2
    #: Share of the training part kept aside to calibrate probabilities and pick the threshold.
    calibration_fraction: float = 0.2
    #: Below this many positives or negatives in the training part, naive Bayes replaces the trees.
    min_per_class: int = 40
    #: A text column with more distinct values than this (or than half its rows) is dropped as free text.
    max_categories: int = 50
    #: Seed of every random choice (split, folds, trees): the same table gives the same model.
    seed: int = 20240605
    #: Threads LightGBM may use.
    num_threads: int = 2

    def __post_init__(self) -> None:
        from services.common.errors import InvalidArgument

        if not 0.05 <= self.holdout_fraction <= 0.5:
            raise InvalidArgument("holdout_fraction must lie between 0.05 and 0.5", field="holdout_fraction")
        if not 0.05 <= self.calibration_fraction <= 0.5:
            raise InvalidArgument("calibration_fraction must lie between 0.05 and 0.5", field="calibration_fraction")
        if self.min_per_class < 5:
            raise InvalidArgument("min_per_class must be at least 5", field="min_per_class")
        names = [c for c in (self.target, self.time_column, self.id_column) if c]
        if len(set(names)) != len(names):
            raise InvalidArgument("target, time and id columns must be different columns")
