"""The job's evaluation: the serving version scored on the job's own test split, and the HTML report.

The report is one self-contained page (plots inlined as base64 PNG): confusion matrix, per-class F1 beside the
serving version's, calibration, and the worst errors. Text shown is training data, HTML-escaped. It is rendered
from what the job folder keeps (``summary.json``, ``serving.json`` and the version's ``report/metrics.json``), so
that erasing a customer can render it again once their rows are cut out (:mod:`training.jobs.erasure`).
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.artifacts import ModelArtifact, load_task_model, read_artifact
from models.encoder import BaseEncoder
from models.registry import ModelRegistry
from models.runtime import classify
from models.tasks import TaskSpec
from training.data import Example
from training.report import evaluate

SUMMARY = "summary.json"  # the job's id, gate and reproducibility record, as the report shows them
SERVING = "serving.json"  # ServingComparison.to_dict()
REPORT_PAGE = "report.html"


@dataclass
class ServingComparison:
    """The serving version on the candidate's test split (``version`` empty: nothing serves the task)."""

    version: str = ""
    tenant_id: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        per_class = {k: v["f1"] for k, v in self.report.get("per_class", {}).items()}
        return {"version": self.version, "tenant_id": self.tenant_id, "metrics": self.metrics,
                "per_class_f1": per_class, "detail": self.detail}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServingComparison:
        """What :meth:`to_dict` kept: enough to render the report again."""
        per_class = {k: {"f1": v} for k, v in data.get("per_class_f1", {}).items()}
        return cls(data.get("version", ""), data.get("tenant_id", ""), data.get("metrics", {}),
                   {"per_class": per_class} if per_class else {}, data.get("detail", ""))  # fmt: skip


def compare_with_serving(
    encoder: BaseEncoder, registry: ModelRegistry, spec: TaskSpec, tenant_id: str, test: list[Example]
) -> ServingComparison:
    serving = registry.production(spec.name, tenant_id)
    if serving is None:
        return ServingComparison(detail=f"no version of {spec.name!r} serves this tenant yet")
    if tuple(serving.labels) != tuple(spec.labels):
        return ServingComparison(
            serving.version, serving.tenant_id, detail="the serving version has other labels: not comparable"
        )
    if not test:
        return ServingComparison(serving.version, serving.tenant_id, detail="the job has no test split")
    model = load_task_model(registry.artifact(spec.name, serving.version, serving.tenant_id), encoder)
    predictions = classify(encoder, [model], [e.text for e in test], explain=False)
    probabilities = np.array([[p.probabilities[label] for label in spec.labels] for [p] in predictions])
    metrics, report = evaluate(spec, test, probabilities)
    detail = f"{serving.version} evaluated on the same {len(test)} test messages"
    return ServingComparison(serving.version, serving.tenant_id, metrics, report, detail)


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _per_class_plot(labels: list[str], ours: dict[str, float], theirs: dict[str, float]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    positions = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.5 * len(labels) + 2), 3.8))
    width = 0.4 if theirs else 0.8
    ax.bar(positions - (width / 2 if theirs else 0), [ours.get(lb, 0.0) for lb in labels], width, label="this job")
    if theirs:
        ax.bar(positions + width / 2, [theirs.get(lb, 0.0) for lb in labels], width, label="serving")
    ax.set_xticks(positions, labels, rotation=60, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1 (test)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    encoded = _png(fig)
    plt.close(fig)
    return encoded


def _image(path: Path, alt: str) -> str:
    if not path.is_file():
        return f"<p>({html.escape(alt)}: not available)</p>"
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(_tr(row) for row in rows)}</tbody></table>"


def _tr(row: list[Any]) -> str:
    cells = (f"{v:.4f}" if isinstance(v, float) else html.escape(str(v)) for v in row)
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _worst_cells(entry: dict[str, Any]) -> list[Any]:
    return [entry["label"], entry["predicted"], entry["confidence"], entry["text"]]


def worst_error_row(entry: dict[str, Any]) -> str:
    """The table row a report page shows for one of ``worst_errors`` (erasure cuts it out of older pages)."""
    return _tr(_worst_cells(entry))


def write_job_report(folder: Path) -> None:
    """Render ``report.html`` of the job folder from its ``summary.json``, ``serving.json`` and version report."""
    artifact = read_artifact(folder / "version")
    report = json.loads((artifact.path / "report" / "metrics.json").read_text(encoding="utf-8"))
    summary = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
    serving = ServingComparison.from_dict(json.loads((folder / SERVING).read_text(encoding="utf-8")))
    partial = folder / f".{REPORT_PAGE}.partial"
    partial.write_text(render_report(summary, artifact, report, serving), encoding="utf-8")
    partial.replace(folder / REPORT_PAGE)  # a reader sees the old page or the new one, never half of one


def render_report(
    job: dict[str, Any], artifact: ModelArtifact, report: dict[str, Any], serving: ServingComparison
) -> str:
    """The job's report page: everything inline, so it can be saved or mailed as one file."""
    labels = list(artifact.task.labels)
    ours = {k: v["f1"] for k, v in report.get("per_class", {}).items()}
    theirs = {k: v["f1"] for k, v in serving.report.get("per_class", {}).items()}
    serving_name = serving.version or "—"
    summary = [
        ["macro-F1", artifact.metrics.get("macro_f1", 0.0), serving.metrics.get("macro_f1", "—")],
        ["accuracy", artifact.metrics.get("accuracy", 0.0), serving.metrics.get("accuracy", "—")],
        ["ECE", artifact.metrics.get("ece", 0.0), serving.metrics.get("ece", "—")],
    ]
    per_class = [[lb, ours.get(lb, 0.0), theirs.get(lb, "—"), report["per_class"][lb]["support"]] for lb in labels]
    worst = [_worst_cells(e) for e in report.get("worst_errors", [])]
    repro = [[k, v] for k, v in job["reproducibility"].items()]
    gate = job.get("gate", {})
    erased = int(report.get("erased_after_evaluation", 0))
    erased_note = (
        f"<p><b>{erased} test rows were erased after this evaluation</b> (a customer's data was erased); the "
        "figures were measured with them.</p>"
        if erased
        else ""
    )
    figure = f'<img alt="per-class F1" src="data:image/png;base64,{_per_class_plot(labels, ours, theirs)}">'
    title = f"{artifact.task.name} — training job {job['id']}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}
table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:14px}}img{{max-width:100%}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>Gate: <b>{"passed" if gate.get("passed") else "not passed"}</b> — {html.escape(str(gate.get("detail", "")))}</p>
{erased_note}
<h2>This job vs the serving version ({html.escape(serving_name)})</h2>
<p>{html.escape(serving.detail)}</p>
{_table(["metric (test)", "this job", f"serving {serving_name}"], summary)}
<h2>Per-class F1</h2>{figure}
{_table(["label", "this job", f"serving {serving_name}", "test examples"], per_class)}
<h2>Confusion matrix</h2>{_image(artifact.path / "report" / "confusion.png", "confusion matrix")}
<h2>Calibration</h2>{_image(artifact.path / "report" / "reliability.png", "reliability diagram")}
<h2>Worst errors</h2>
{_table(["true", "predicted", "confidence", "text (redacted training data)"], worst) if worst else "<p>none</p>"}
<h2>Reproducibility</h2>{_table(["what", "value"], repro)}
</body></html>
"""
