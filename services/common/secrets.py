"""Process secrets (master key, API-key pepper): from configuration, or for the embedded default set-up
generated once into ``<data_dir>/secrets.json`` (mode 0600) so a laptop needs no key management."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from services.common.errors import FailedPrecondition
from services.common.settings import CommonSettings


@dataclass(frozen=True)
class Secrets:
    master_key: bytes
    api_key_pepper: bytes


def _decode_key(value: str, name: str) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except ValueError:
        raise FailedPrecondition(f"{name} is not valid base64") from None
    if len(key) != 32:
        raise FailedPrecondition(f"{name} must decode to 32 bytes, got {len(key)}")
    return key


def _local_file(data_dir: Path) -> dict[str, str]:
    path = data_dir / "secrets.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    data_dir.mkdir(parents=True, exist_ok=True)
    values = {name: base64.b64encode(secrets.token_bytes(32)).decode() for name in ("master_key", "pepper")}
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(values, f)
    try:
        os.link(tmp, path)  # atomic and never overwrites: a concurrent first start keeps one winner
    except FileExistsError:
        values = dict(json.loads(path.read_text()))
    finally:
        tmp.unlink()
    return values


def load_secrets(settings: CommonSettings) -> Secrets:
    """Configured secrets win; missing ones come from (or are created in) the data folder."""
    master = settings.master_key.get_secret_value() if settings.master_key else None
    pepper = settings.api_key_pepper.get_secret_value() if settings.api_key_pepper else None
    if master is None or pepper is None:
        local = _local_file(settings.data_dir)
        master = master or local["master_key"]
        pepper = pepper or local["pepper"]
    return Secrets(master_key=_decode_key(master, "master key"), api_key_pepper=pepper.encode())
