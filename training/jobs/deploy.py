"""The gate (test macro-F1 against the serving version) and the deploy through the inference service's
hot-swap lifecycle: LoadModel (check, smoke-evaluate, warm up), then SetTraffic (canary % or shadow)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import grpc
from salesai.inference.v1 import inference_pb2, inference_pb2_grpc

from services.common.channels import channel_options
from services.common.settings import CommonSettings
from training.jobs.evaluation import ServingComparison


@dataclass
class Gate:
    evaluated: bool
    passed: bool
    candidate_macro_f1: float
    serving_macro_f1: float
    serving_version: str
    margin: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(candidate_macro_f1: float, serving: ServingComparison, margin: float) -> Gate:
    """Pass when nothing comparable serves, or the drop below the serving version is at most ``margin``."""
    if not serving.metrics:
        return Gate(False, True, candidate_macro_f1, 0.0, serving.version, margin, f"passed: {serving.detail}")
    theirs = float(serving.metrics["macro_f1"])
    passed = candidate_macro_f1 >= theirs - margin
    verdict = "passed" if passed else "refused"
    detail = (
        f"{verdict}: test macro-F1 {candidate_macro_f1:.4f} vs serving {serving.version} {theirs:.4f} "
        f"on the same test split (allowed drop {margin:.4f})"
    )
    return Gate(True, passed, candidate_macro_f1, theirs, serving.version, margin, detail)


def deploy(
    inference_url: str,
    *,
    mode: str,
    task: str,
    version: str,
    tenant_id: str,
    canary_percent: float,
    actor: str,
    timeout: float,
    settings: CommonSettings | None = None,
) -> tuple[dict[str, Any], dict[str, float]]:
    """Load the version, then route traffic to it. Returns (result, seconds per phase); never raises.

    The channel is the suite's (services/common/channels.py, tuned by ``settings``; None: the defaults)."""
    phases: dict[str, float] = {}
    with grpc.insecure_channel(inference_url, options=channel_options(settings)) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        try:
            started = time.perf_counter()
            stub.LoadModel(
                inference_pb2.LoadModelRequest(task=task, version=version, tenant_id=tenant_id, actor=actor),
                timeout=timeout,
            )
            phases["load"] = time.perf_counter() - started
            started = time.perf_counter()
            current = stub.GetTraffic(inference_pb2.GetTrafficRequest(task=task, tenant_id=tenant_id), timeout=timeout)
            request = inference_pb2.SetTrafficRequest(task=task, tenant_id=tenant_id, actor=actor)
            if mode == "canary":  # keep a shadow that is already running, and the other way round
                request.canary_version, request.canary_percent = version, canary_percent
                request.shadow_version = current.shadow_version
            else:
                request.shadow_version = version
                request.canary_version, request.canary_percent = current.canary_version, current.canary_percent
            stub.SetTraffic(request, timeout=timeout)
            phases[mode] = time.perf_counter() - started
        except grpc.RpcError as error:
            code = error.code()  # type: ignore[attr-defined]
            detail = f"{mode} deploy of {version} failed: {code.name} {error.details()}"  # type: ignore[attr-defined]
            return {"mode": mode, "done": False, "detail": detail}, phases
    where = f"{canary_percent:g}% of conversations" if mode == "canary" else "shadow (not answering)"
    return {"mode": mode, "done": True, "detail": f"{version} serving as {mode}: {where}"}, phases
