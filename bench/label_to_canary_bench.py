"""Label to canary: from 1,000 labelled messages to a retrained intent model taking canary traffic, through the
real training job service (its worker process trains LoRA on the real base model) and a real inference server.

Samples 1,000 messages from training/data/intent.jsonl, stratified by label (their train/dev/test split kept),
writes them as a dataset file, submits a job with deploy=canary, and follows it to the end. Prints the wall time
of each phase (queue, train, evaluate, register, load, canary on) and in total, and the test macro-F1 reached
beside the serving (shipped) intent version on the same test split. With --baseline it also times
`salesai train` on the same data and config (a CLI run, no deploy) for comparison.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/label_to_canary_bench.py [--epochs 8] [--baseline] [--json out.json]

The gate margin defaults to 1.0 here (the point is the time to canary, and a canary is the place to find out);
the gate's measured gap is printed either way. Use --margin 0.02 to benchmark with the production gate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
from salesai.inference.v1 import inference_pb2, inference_pb2_grpc  # noqa: E402
from salesai.training.v1 import jobs_pb2, jobs_pb2_grpc  # noqa: E402

from models.config import ModelSettings  # noqa: E402
from models.encoder import BaseEncoder  # noqa: E402
from services.common.storage import upgrade  # noqa: E402
from services.inference.config import InferenceSettings  # noqa: E402
from services.inference.server import create_server as create_inference  # noqa: E402
from services.training.config import TrainingSettings  # noqa: E402
from services.training.server import create_server as create_training  # noqa: E402
from training.data import Example, read_examples, write_examples  # noqa: E402
from training.seed import DATA_DIR  # noqa: E402

PHASES = ("queue", "train", "evaluate", "register", "load", "canary")


def stratified_sample(rows: list[Example], size: int, seed: int) -> list[Example]:
    """``size`` rows, each label in proportion to its share (largest remainders), split fields kept."""
    by_label: dict[str, list[Example]] = defaultdict(list)
    for row in rows:
        by_label[row.label].append(row)
    rng = random.Random(seed)
    quotas = {label: size * len(group) / len(rows) for label, group in by_label.items()}
    counts = {label: int(q) for label, q in quotas.items()}
    for label in sorted(quotas, key=lambda k: quotas[k] - counts[k], reverse=True)[: size - sum(counts.values())]:
        counts[label] += 1
    picked: list[Example] = []
    for label, group in sorted(by_label.items()):
        picked += rng.sample(group, counts[label])
    return picked


def run_job(args: argparse.Namespace, data_dir: Path, dataset: Path, threads: int) -> dict[str, object]:
    models = ModelSettings(data_dir=data_dir, device="cpu", max_length=args.max_length, torch_threads=threads)
    url = f"sqlite:///{data_dir / 'salesai.db'}"
    upgrade(url)
    encoder = BaseEncoder.from_settings(models)
    inference, _ = create_inference(
        InferenceSettings(port=0, database_url=url, data_dir=data_dir, models=models), encoder=encoder
    )
    inference.start()  # installs and activates the shipped intent version: the serving one to canary beside
    training, port = create_training(
        TrainingSettings(
            port=0, database_url=url, data_dir=data_dir, models=models, dataset_roots=[str(dataset.parent)],
            inference_url=f"127.0.0.1:{inference.port}", promotion_margin=args.margin, torch_threads=threads,
            poll_seconds=0.1,
        )
    )  # fmt: skip
    training.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = jobs_pb2_grpc.TrainingJobsStub(channel)
            params = jobs_pb2.HyperParameters(
                method=args.method,
                epochs=args.epochs,
                batch_size=args.batch_size,
                learning_rate=args.learning_rate,
                patience=args.epochs,
                seed=13,
            )
            started = time.perf_counter()
            job = stub.SubmitJob(
                jobs_pb2.SubmitJobRequest(
                    tenant_id="", task="intent", dataset_path=str(dataset), params=params,
                    deploy=jobs_pb2.DEPLOY_MODE_CANARY, canary_percent=10, actor="bench",
                )
            )  # fmt: skip
            for event in stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=job.id)):
                if event.kind != "progress" or event.progress.dev_macro_f1:
                    print(f"  [{time.perf_counter() - started:7.1f}s] {event.kind:<8} {event.message}", flush=True)
            total = time.perf_counter() - started
            done = stub.GetJob(jobs_pb2.GetJobRequest(job_id=job.id))
        with grpc.insecure_channel(f"127.0.0.1:{inference.port}") as channel:
            traffic = inference_pb2_grpc.InferenceServiceStub(channel).GetTraffic(
                inference_pb2.GetTrafficRequest(task="intent")
            )
    finally:
        training.stop(0)
        inference.stop(0)
    return {
        "state": jobs_pb2.JobState.Name(done.state).removeprefix("JOB_STATE_").lower(),
        "error": done.error,
        "version": done.version,
        "phase_seconds": {p: round(done.phase_seconds.get(p, 0.0), 2) for p in PHASES},
        "worker_overhead_seconds": round(total - sum(done.phase_seconds.get(p, 0.0) for p in PHASES), 2),
        "total_seconds": round(total, 2),
        "test_macro_f1": round(done.metrics.get("macro_f1", 0.0), 4),
        "serving_version": done.gate.serving_version,
        "serving_test_macro_f1": round(done.gate.serving_macro_f1, 4),
        "gate": done.gate.detail,
        "deploy": done.deploy_result.detail,
        "traffic": {
            "stable": traffic.stable_version,
            "canary": traffic.canary_version,
            "canary_percent": traffic.canary_percent,
        },  # fmt: skip
        "reproducibility": {
            "data_sha256": done.reproducibility.data_sha256,
            "code_version": done.reproducibility.code_version,
        },  # fmt: skip
    }


def run_baseline(args: argparse.Namespace, data_dir: Path, dataset: Path, threads: int) -> dict[str, object]:
    """`salesai train` on the same data and config, in its own process (no registry, no deploy)."""
    env = {**os.environ, "SALESAI_DATA_DIR": str(data_dir / "baseline"), "SALESAI_MODELS_DEVICE": "cpu",
           "SALESAI_MODELS_MAX_LENGTH": str(args.max_length), "SALESAI_MODELS_TORCH_THREADS": str(threads)}  # fmt: skip
    command = [str(Path(sys.executable).with_name("salesai")), "train", "--task", "intent", "--data", str(dataset),
               "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
               "--learning-rate", str(args.learning_rate), "--no-register"]  # fmt: skip
    if args.method == "linear":
        command.append("--fast")
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        return {"error": result.stderr[-500:], "total_seconds": round(seconds, 2)}
    metrics = json.loads(result.stdout.strip().splitlines()[-1])["metrics"]
    return {"total_seconds": round(seconds, 2), "test_macro_f1": round(metrics["macro_f1"], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--method", choices=("lora", "linear"), default="lora")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--margin", type=float, default=1.0)
    parser.add_argument("--baseline", action="store_true", help="Also time `salesai train` on the same config.")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "label_to_canary.json")
    args = parser.parse_args()

    rows = stratified_sample(read_examples(DATA_DIR / "intent.jsonl"), args.size, seed=13)
    with tempfile.TemporaryDirectory(prefix="salesai-l2c-") as tmp:
        data_dir = Path(tmp)
        dataset = data_dir / "datasets" / "intent-1000.jsonl"
        dataset.parent.mkdir(parents=True)
        write_examples(dataset, rows)
        labels = len({r.label for r in rows})
        print(f"{len(rows)} labelled messages, {labels} labels; {args.method}, {args.epochs} epochs, ")
        print(f"batch {args.batch_size}, max_length {args.max_length}, {args.threads} torch threads")
        job = run_job(args, data_dir, dataset, args.threads)
        baseline = run_baseline(args, data_dir, dataset, args.threads) if args.baseline else None
    print("\nphase          seconds")
    for phase, seconds in job["phase_seconds"].items():  # type: ignore[union-attr]
        print(f"  {phase:<12} {seconds:8.2f}")
    print(f"  {'(worker start, data, encoder load)':<12} {job['worker_overhead_seconds']:8.2f}")
    load = os.getloadavg()[0]
    print(f"  {'TOTAL':<12} {job['total_seconds']:8.2f}  (target <= 600 on 2 cores; load average now {load:.1f})")
    print(f"state {job['state']} {job['error']}; {job['gate']}; {job['deploy']}")
    print(f"test macro-F1 {job['test_macro_f1']} vs serving {job['serving_version']} {job['serving_test_macro_f1']}")
    if baseline:
        print(f"baseline `salesai train` (same config, no deploy): {baseline}")
    result = {
        "benchmark": "label_to_canary",
        "machine": {"cpus": os.cpu_count(), "torch_threads": args.threads, "load_average": os.getloadavg()},
        "config": {k: v for k, v in vars(args).items() if k != "json"},
        "job": job,
        "baseline": baseline,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"saved {args.json}")


if __name__ == "__main__":
    main()
