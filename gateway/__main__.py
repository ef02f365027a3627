"""``python -m gateway``: serve the REST API with uvicorn until SIGTERM.

Prints one JSON line ``{"event": "ready", "port": ...}`` on stdout once listening (for ``salesai up``).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys

import uvicorn

from gateway.config import GatewaySettings
from gateway.main import create_app
from services.common.logging import configure_logging


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket (bound here so an OS-chosen port can be reported before serving).

    proto=IPPROTO_TCP: accepted sockets inherit it, and asyncio turns Nagle off (TCP_NODELAY) only when it sees
    it — with proto 0 every keep-alive request after the first waits ~40 ms on a delayed ACK (uvicorn #3149).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


async def _serve(settings: GatewaySettings) -> None:
    sock = bind_socket(settings.host, settings.port)
    config = uvicorn.Config(create_app(settings), log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if server.started:
        print(json.dumps({"event": "ready", "port": sock.getsockname()[1]}), flush=True)
    await task


def _exit_cleanly(signum: int, _frame: object) -> None:
    sys.exit(0)


def main() -> None:
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the handler it found: make that
    # handler a clean exit, so a graceful stop exits 0 (as the gRPC services do) instead of dying by the signal.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    settings = GatewaySettings()
    configure_logging(settings.log_level, settings.log_json)
    asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
