"""``salesai scoring train|predict|versions|revert``: lead scoring from any CSV or Parquet table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from services.cli.common import console, friendly_errors
from services.common.settings import CommonSettings

if TYPE_CHECKING:
    from services.scoring.registry import ScoringRegistry

scoring_app = typer.Typer(
    name="scoring", help="Train lead-scoring models from a table, score rows, manage versions.", no_args_is_help=True
)

DataOption = Annotated[Path, typer.Option("--data", help="A .csv or .parquet file, one row per lead.")]
NameOption = Annotated[str, typer.Option("--name", help="Model name; versions are kept per name.")]


def _registry() -> ScoringRegistry:
    # imported here: pandas and lightgbm are not needed by the rest of the CLI
    from services.scoring.registry import ScoringRegistry

    return ScoringRegistry(CommonSettings().data_dir / "scoring")


@scoring_app.command("train")
@friendly_errors
def train_command(
    data: DataOption,
    target: Annotated[str, typer.Option("--target", help="Outcome column: yes/no, true/false, 1/0 or won/lost.")],
    time_column: Annotated[
        str | None, typer.Option("--time-column", help="Hold out the latest 20% of rows by this column.")
    ] = None,
    id_column: Annotated[str | None, typer.Option("--id-column", help="Row id column (never a feature).")] = None,
    name: NameOption = "default",
) -> None:
    """Train on a table, print the held-out AUC and register the model as the new current version."""
    from services.scoring.config import TrainConfig
    from services.scoring.model import train
    from services.scoring.table import file_sha256, read_table

    frame = read_table(data)
    config = TrainConfig(target=target, time_column=time_column, id_column=id_column)
    result = train(frame, config)
    source = {"file": data.name, "sha256": file_sha256(data), "rows": len(frame), "columns": list(frame.columns)}
    info = _registry().register(name, result, source)
    for note in result.report["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}")
    holdout = result.report["holdout"]
    auc = "n/a (one outcome only)" if holdout["auc"] is None else f"{holdout['auc']:.3f}"
    typer.echo(f"held-out AUC: {auc}")
    console.print(
        f"registered {name} {info.version} ({result.model.kind}, {result.report['split']['method']} split): "
        f"F1 {holdout['f1']:.3f} at threshold {holdout['threshold']:.3f}, Brier {holdout['brier']:.3f}, "
        f"lift at top decile {_fmt(holdout['lift_top_decile'])}, {holdout['rows']} held-out rows"
    )


@scoring_app.command("predict")
@friendly_errors
def predict_command(
    data: DataOption,
    id_column: Annotated[
        str | None, typer.Option("--id-column", help="Row id column (default: the one used in training).")
    ] = None,
    name: NameOption = "default",
) -> None:
    """Score every row with the current version: one JSON line per row (id, probability, factors) on stdout."""
    from services.scoring.table import read_table

    model, _ = _registry().load(name)
    frame = read_table(data)
    for record in model.explain(frame, id_column):
        typer.echo(json.dumps(record, ensure_ascii=False, default=str))


@scoring_app.command("versions")
@friendly_errors
def versions_command(name: NameOption = "default") -> None:
    """List the versions of a model, with their held-out metrics; the current one is marked."""
    table = Table("", "version", "created", "model", "AUC", "F1", "Brier", "data")
    for info in _registry().versions(name):
        meta, metrics = info.metadata, info.metadata["metrics"]
        table.add_row(
            "*" if info.current else "",
            info.version,
            meta["created_at"],
            meta["model"],
            _fmt(metrics["auc"]),
            _fmt(metrics["f1"]),
            _fmt(metrics["brier"]),
            f"{meta['data']['file']} ({meta['data']['rows']} rows)",
        )
    console.print(table)


@scoring_app.command("revert")
@friendly_errors
def revert_command(name: NameOption = "default") -> None:
    """Make the version before the current one current again."""
    previous, now = _registry().revert(name)
    console.print(f"{name}: current is now {now} (was {previous})")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@scoring_app.command("signals")
@friendly_errors
def signals_command(
    interactions: Annotated[
        Path, typer.Option("--interactions", help="JSON lines: lead_id, occurred_at, direction, predictions.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write the lead table (.csv or .parquet).")],
    leads: Annotated[Path | None, typer.Option("--leads", help="CRM fields per lead (.csv/.parquet) to join.")] = None,
    id_column: Annotated[str, typer.Option("--id-column", help="Lead id column of --leads.")] = "lead_id",
    as_of_column: Annotated[
        str | None, typer.Option("--as-of-column", help="Compute each lead's signals as of this date (training).")
    ] = None,
    window_days: Annotated[float, typer.Option("--window-days", min=1, max=365)] = 30.0,
) -> None:
    """Build one row of signals per lead (intent counts and recency, risk trend, reply latency, touch
    frequency, days since last touch, stage age) from classified interactions, joined with CRM fields."""
    from services.scoring.signals import build_table, read_touches
    from services.scoring.table import read_table

    table = build_table(
        read_touches(interactions),
        read_table(leads) if leads else None,
        as_of_column=as_of_column,
        id_column=id_column,
        window_days=window_days,
    )
    if out.suffix.lower() == ".parquet":
        table.to_parquet(out, index=False)
    else:
        table.to_csv(out, index=False)
    console.print(f"wrote {len(table)} leads × {table.shape[1]} columns to {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(scoring_app)
