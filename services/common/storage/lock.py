"""A lock every replica of a service sees, so periodic work shared by the replicas runs on one of them at a time.

On PostgreSQL it is a session-level advisory lock (``pg_try_advisory_lock``) held on one connection for the
block: the server frees it when the holder unlocks, and also when its process dies (the connection closes), so a
crashed replica never leaves it taken. On a SQLite file — replicas are then processes of one machine sharing the
file — it is an ``flock`` on a lock file beside the database, which the kernel frees the same way. An in-memory
SQLite database has one process: the lock is always granted.

:func:`try_exclusive` never waits: a replica that does not get the lock skips that round of work, the holder does
it. :func:`exclusive` waits up to a timeout, for work that must happen but one at a time (a model route change).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from services.common.storage.db import Database


def lock_key(name: str) -> int:
    """The advisory-lock key of ``name``: a stable signed 64-bit number (PostgreSQL's bigint)."""
    return int.from_bytes(hashlib.sha256(f"salesai:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def try_exclusive(db: Database, name: str) -> Iterator[bool]:
    """Hold the lock ``name`` for the block if no other process holds it; yields whether this one does."""
    url = make_url(db.url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        with _advisory(db, name) as held:
            yield held
    elif backend == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database)
        with _file_lock(database.with_name(f"{database.name}.lock-{lock_key(name) & (2**64 - 1):016x}")) as held:
            yield held
    else:
        yield True


@contextmanager
def exclusive(db: Database, name: str, *, timeout: float, poll: float = 0.05) -> Iterator[bool]:
    """Hold the lock ``name`` for the block, waiting up to ``timeout`` seconds for its holder to let it go; yields
    whether this process holds it (False: the timeout passed first)."""
    deadline = time.monotonic() + timeout
    while True:
        with try_exclusive(db, name) as held:
            if held or time.monotonic() >= deadline:
                yield held
                return
        time.sleep(poll)


@contextmanager
def _advisory(db: Database, name: str) -> Iterator[bool]:
    key = lock_key(name)
    with db.engine.connect() as conn:
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
        conn.commit()  # the lock belongs to the session, not the transaction: end the transaction, keep the lock
        try:
            yield held
        finally:
            if held:  # before the connection goes back to the pool, where it would keep the lock
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()


@contextmanager
def _file_lock(path: Path) -> Iterator[bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
