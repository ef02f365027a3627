"""The whole suite as ``salesai up`` runs it, in a private data folder, for benchmarks that drive the gateway."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.auth import KeyStore  # noqa: E402
from services.cli.supervisor import Suite, default_specs  # noqa: E402
from services.common.roles import Role  # noqa: E402
from services.common.secrets import load_secrets  # noqa: E402
from services.common.settings import CommonSettings  # noqa: E402
from services.common.storage import Database, upgrade  # noqa: E402


@contextmanager
def running_suite(
    roles: dict[str, Role],
    prepare: Callable[[Database, Path], None] | None = None,
    tenant: str = "bench",
    ports: dict[str, int] | None = None,
) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield the gateway URL and one API key per name in ``roles`` (rate limits off: one key drives the load);
    ``ports``, if given, is filled with every service's port (for benches that also call the services directly)."""
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        env = {
            **os.environ,
            "SALESAI_DATA_DIR": str(data_dir),
            "SALESAI_LOG_LEVEL": "WARNING",
            "SALESAI_GATEWAY_RATE_LIMIT": "",
        }
        settings = CommonSettings(data_dir=data_dir)
        upgrade(settings.resolved_database_url)
        db = Database(settings.resolved_database_url)
        keys = KeyStore(db, load_secrets(settings).api_key_pepper)
        tokens = {name: keys.create(tenant, role).token for name, role in roles.items()}
        if prepare is not None:
            prepare(db, data_dir)
        db.dispose()
        suite = Suite(data_dir, default_specs("127.0.0.1", 0, 0), base_env=env)
        suite.start()
        if ports is not None:
            ports.update(suite.ports)
        try:
            yield f"http://127.0.0.1:{suite.ports['gateway']}", tokens
        finally:
            suite.stop()
