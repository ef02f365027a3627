"""Container health check for the salesai images (Docker ``HEALTHCHECK`` and compose ``healthcheck``).

    python healthcheck.py grpc 127.0.0.1:50051          # grpc.health.v1 Check(""), healthy when SERVING
    python healthcheck.py grpc 127.0.0.1:50051 SERVICE  # one hosted service instead of the whole server
    python healthcheck.py http http://127.0.0.1:8000/readyz

Exit 0 when healthy, 1 otherwise (one line on stderr says why). Standard library plus ``grpcio`` and
``grpcio-health-checking``, which every image has. Kubernetes does not need it: its native ``grpc:`` and
``httpGet:`` probes ask the same questions.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 3.0


def check_grpc(address: str, service: str = "", timeout: float = TIMEOUT_SECONDS) -> tuple[bool, str]:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.RpcError as err:
            return False, f"{address}: {err.code().name}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return reply.status == health_pb2.HealthCheckResponse.SERVING, f"{address}: {status}"


def check_http(url: str, timeout: float = TIMEOUT_SECONDS) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:  # noqa: S310 - a fixed local URL
            return 200 <= reply.status < 300, f"{url}: HTTP {reply.status}"
    except urllib.error.HTTPError as err:
        return False, f"{url}: HTTP {err.code}"
    except (urllib.error.URLError, OSError) as err:
        return False, f"{url}: {err}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) >= 2 and args[0] == "grpc":
        ok, why = check_grpc(args[1], args[2] if len(args) > 2 else "")
    elif len(args) == 2 and args[0] == "http":
        ok, why = check_http(args[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if not ok:
        print(f"unhealthy: {why}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
