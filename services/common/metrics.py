"""Prometheus metrics shared by the gRPC runtime. Labels hold method names and codes, never payloads."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

RPC_HANDLED = Counter(
    "salesai_grpc_server_handled_total",
    "RPCs completed, by method and status code.",
    ["service", "method", "code"],
)
RPC_LATENCY = Histogram(
    "salesai_grpc_server_handling_seconds",
    "Time to handle an RPC, by method.",
    ["service", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def split_method(full_method: str) -> tuple[str, str]:
    """``/salesai.ingestion.v1.IngestionService/Ingest`` -> (``IngestionService``, ``Ingest``)."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service.rsplit(".", 1)[-1], method


def serve_metrics(host: str, port: int) -> int:
    """Expose the default registry at ``http://host:port/metrics``; returns the bound port."""
    server, _thread = start_http_server(port, addr=host)
    return int(server.server_address[1])
