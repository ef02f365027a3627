"""Run the whole suite as local processes (what ``salesai up`` does; the end-to-end tests use it too).

Each service is started with ``python -m <module>``, prints one JSON ``ready`` line on stdout once it
is SERVING, and logs to ``<data_dir>/logs/<name>.log``. Services start in dependency order; the gateway
is told where each one listens. Stopping sends SIGTERM in reverse order (graceful), then SIGKILL after a
timeout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.common.errors import Unavailable


@dataclass
class ProcessSpec:
    name: str
    module: str
    env: dict[str, str]
    #: called with the ports of the services started before it; returns extra environment
    wire: Callable[[dict[str, int]], dict[str, str]] = lambda _ports: {}


@dataclass
class Running:
    spec: ProcessSpec
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    metrics_port: int | None = None


@dataclass
class Suite:
    data_dir: Path
    specs: list[ProcessSpec]
    base_env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    start_timeout: float = 300.0
    running: list[Running] = field(default_factory=list)

    @property
    def ports(self) -> dict[str, int]:
        return {r.spec.name: r.port for r in self.running}

    def start(self, on_started: Callable[[Running], None] | None = None) -> None:
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        try:
            for spec in self.specs:
                running = self._start_one(spec, logs)
                self.running.append(running)
                if on_started:
                    on_started(running)
        except BaseException:
            self.stop()
            raise

    def restart(self, name: str) -> Running:
        """Start process ``name`` again on the port it had (after a crash or a kill), so its clients reconnect."""
        index = next(i for i, r in enumerate(self.running) if r.spec.name == name)
        old = self.running[index]
        if old.process.poll() is None:
            old.process.send_signal(signal.SIGTERM)
            old.process.wait(30)
        ports = {k: str(old.port) for k in old.spec.env if k.endswith("_PORT") and "METRICS" not in k}
        spec = ProcessSpec(old.spec.name, old.spec.module, {**old.spec.env, **ports}, old.spec.wire)
        self.running[index] = self._start_one(spec, self.data_dir / "logs")
        return self.running[index]

    def _start_one(self, spec: ProcessSpec, logs: Path) -> Running:
        env = {**self.base_env, **spec.env, **spec.wire(self.ports)}
        log_path = logs / f"{spec.name}.log"
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", spec.module],
                env=env,
                stdout=subprocess.PIPE,
                stderr=log_file,
                start_new_session=True,
            )
        ready = self._await_ready(spec.name, process, log_path)
        threading.Thread(target=_drain, args=(process,), daemon=True).start()
        return Running(spec, process, int(ready["port"]), log_path, ready.get("metrics_port"))

    def _await_ready(self, name: str, process: subprocess.Popen[bytes], log_path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict) and event.get("event") == "ready":
                    result.update(event)
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(self.start_timeout)
        if "port" not in result:
            process.kill()
            raise Unavailable(f"{name} did not become ready (exit code {process.poll()}); see {log_path}")
        return result

    def failed(self) -> Running | None:
        """The first process that exited on its own, if any."""
        return next((r for r in self.running if r.process.poll() is not None), None)

    def stop(self, timeout: float = 15.0) -> None:
        for running in reversed(self.running):
            if running.process.poll() is None:
                running.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for running in reversed(self.running):
            try:
                running.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                running.process.kill()
                running.process.wait()
        self.running.clear()


def _drain(process: subprocess.Popen[bytes]) -> None:
    assert process.stdout is not None
    for _ in process.stdout:
        pass


def default_specs(
    host: str,
    gateway_port: int,
    ingestion_port: int,
    inference_port: int = 0,
    training_port: int = 0,
    leads_port: int = 0,
) -> list[ProcessSpec]:
    """The services of the suite, in start order."""
    return [
        ProcessSpec(
            "ingestion",
            "services.ingestion",
            {
                "SALESAI_INGESTION_HOST": host,
                "SALESAI_INGESTION_PORT": str(ingestion_port),
                "SALESAI_INGESTION_METRICS_PORT": "0",
            },
        ),
        ProcessSpec(
            "inference",
            "services.inference",
            {
                "SALESAI_INFERENCE_HOST": host,
                "SALESAI_INFERENCE_PORT": str(inference_port),
                "SALESAI_INFERENCE_METRICS_PORT": "0",
            },
        ),
        ProcessSpec(
            "training",
            "services.training",
            {
                "SALESAI_TRAINING_HOST": host,
                "SALESAI_TRAINING_PORT": str(training_port),
                "SALESAI_TRAINING_METRICS_PORT": "0",
            },
            wire=lambda ports: {"SALESAI_TRAINING_INFERENCE_URL": f"{host}:{ports['inference']}"},
        ),
        ProcessSpec(
            "leads",
            "services.leads",
            {
                "SALESAI_LEADS_HOST": host,
                "SALESAI_LEADS_PORT": str(leads_port),
                "SALESAI_LEADS_METRICS_PORT": "0",
            },
        ),
        ProcessSpec(
            "gateway",
            "gateway",
            {"SALESAI_GATEWAY_HOST": host, "SALESAI_GATEWAY_PORT": str(gateway_port)},
            wire=lambda ports: {
                "SALESAI_GATEWAY_INGESTION_URL": f"{host}:{ports['ingestion']}",
                "SALESAI_GATEWAY_INFERENCE_URL": f"{host}:{ports['inference']}",
                "SALESAI_GATEWAY_TRAINING_URL": f"{host}:{ports['training']}",
                "SALESAI_GATEWAY_LEADS_URL": f"{host}:{ports['leads']}",
            },
        ),
    ]
