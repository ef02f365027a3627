"""A private PostgreSQL server of our own (initdb in a temporary folder, an ephemeral port) that a fault test may
stop, crash and restart without disturbing the machine's shared server or anything else using it."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def _bin_dir() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivatePostgres:
    folder: Path
    port: int
    bin_dir: Path

    @classmethod
    def available(cls) -> str | None:
        """Why one cannot be made here, or None."""
        if _bin_dir() is None:
            return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
        if os.geteuid() == 0 and shutil.which("runuser") is None:
            return "running as root without runuser: initdb refuses root"
        return None

    @classmethod
    def create(cls) -> PrivatePostgres:
        bin_dir = _bin_dir()
        assert bin_dir is not None
        folder = Path(tempfile.mkdtemp(prefix="salesai-pg-"))
        server = cls(folder, _free_port(), bin_dir)
        if os.geteuid() == 0:  # PostgreSQL will not run as root: hand the folder to the postgres user
            shutil.chown(folder, "postgres", "postgres")
        server._run("initdb", "-D", str(folder / "data"), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        server.start()
        return server

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120, cwd=self.folder)

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        log = str(self.folder / "server.log")
        self._run("pg_ctl", action, "-D", str(self.folder / "data"), "-o", options, "-l", log, "-w", *extra)

    def start(self) -> None:
        self._ctl("start")

    def crash_and_restart(self) -> None:
        """``-m immediate``: the server dies without a checkpoint, as in a power cut; recovery replays the WAL."""
        self._ctl("restart", "-m", "immediate")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
