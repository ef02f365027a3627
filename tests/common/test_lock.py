"""The lock replicas share (services/common/storage/lock.py), on a SQLite file and on the PostgreSQL server:
one holder at a time, released at the end of the block and when the holder's process dies."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from services.common.storage import Database
from services.common.storage.lock import lock_key, try_exclusive

ROOT = Path(__file__).resolve().parents[2]


def test_one_holder_at_a_time_then_the_next(database_url: str) -> None:
    first, second = Database(database_url), Database(database_url)  # two replicas, two connections
    try:
        with try_exclusive(first, "scan") as held:
            assert held
            with try_exclusive(second, "scan") as other:
                assert not other
            with try_exclusive(second, "another-job") as unrelated:
                assert unrelated  # names do not collide
        with try_exclusive(second, "scan") as held:
            assert held  # released at the end of the block
    finally:
        first.dispose()
        second.dispose()


def test_a_holder_that_dies_frees_the_lock(database_url: str) -> None:
    code = (
        "import sys, time\n"
        "from services.common.storage import Database\n"
        "from services.common.storage.lock import try_exclusive\n"
        "with try_exclusive(Database(sys.argv[1]), 'scan') as held:\n"
        "    print('held' if held else 'refused', flush=True)\n"
        "    time.sleep(120)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, database_url], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    db = Database(database_url)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with try_exclusive(db, "scan") as held:
            assert not held
        holder.kill()  # no unlock: the process is gone
        holder.wait(10)
        deadline = time.monotonic() + 10
        while True:
            with try_exclusive(db, "scan") as held:
                if held:
                    break
            assert time.monotonic() < deadline, "the dead holder's lock was never freed"
            time.sleep(0.05)
    finally:
        holder.kill()
        db.dispose()


def test_an_in_memory_database_always_grants_it() -> None:
    db = Database("sqlite://")
    with try_exclusive(db, "scan") as held, try_exclusive(db, "scan") as again:
        assert held and again  # one process owns an in-memory database
    db.dispose()


def test_keys_are_stable_signed_64_bit_numbers() -> None:
    assert lock_key("scan") == lock_key("scan") != lock_key("other")
    assert -(2**63) <= lock_key("scan") < 2**63
