"""Shared fixtures: databases (SQLite and the real PostgreSQL server), settings with test secrets."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from .pii_leaks import pytest_configure, pytest_sessionfinish  # noqa: F401 - hooks: a PII scan of the whole run

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TEST_MASTER_KEY = base64.b64encode(b"k" * 32).decode()
TEST_PEPPER = "test-pepper"


def _postgres_admin_url() -> str:
    return os.environ.get("SALESAI_TEST_POSTGRES_URL", DEFAULT_POSTGRES)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of the PostgreSQL server; required in CI (SALESAI_TEST_POSTGRES_URL set), else skipped."""
    url = _postgres_admin_url()
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as err:  # noqa: BLE001 - any connection failure means "no server"
        if "SALESAI_TEST_POSTGRES_URL" in os.environ:
            raise
        pytest.skip(f"PostgreSQL not reachable at {url}: {type(err).__name__}")
    return url


def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """Create an empty database for one test, drop it afterwards."""
    name = f"salesai_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database: a SQLite file, then (second parametrisation) a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/salesai.db"
        return
    admin_url = request.getfixturevalue("postgres_server")
    yield from fresh_postgres_database(admin_url)


@pytest.fixture
def migrated_url(database_url: str) -> str:
    from services.common.storage import upgrade

    upgrade(database_url)
    return database_url


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory) -> dict[str, str]:
    """Test secrets and a private data folder, as environment variables (what subprocesses read too)."""
    env = {
        "SALESAI_MASTER_KEY": TEST_MASTER_KEY,
        "SALESAI_API_KEY_PEPPER": TEST_PEPPER,
        "SALESAI_DATA_DIR": str(tmp_path / "data"),
        "SALESAI_LOG_JSON": "true",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


# --- the real base encoder and a small trained adapter (built once per session, only when a test asks) -------


@pytest.fixture(scope="session")
def base_model_dir():
    from models.base_encoder import DEFAULT_BASE_MODEL_DIR, build_base_model

    return build_base_model(DEFAULT_BASE_MODEL_DIR)


@pytest.fixture(scope="session")
def encoder(base_model_dir):
    from models.encoder import BaseEncoder

    return BaseEncoder(str(base_model_dir), device="cpu", max_length=64, adapt_layers=4)


SMALL_LABELS = ("budget_freeze", "demo_request", "pricing_inquiry", "unsubscribe")


def small_examples(per_label: int = 24, test_per_label: int = 8):
    """A 4-label slice of the shipped intent data: ``per_label`` train+dev and ``test_per_label`` test rows each."""
    from training.data import Example, read_examples
    from training.seed import DATA_DIR

    rows = [e for e in read_examples(DATA_DIR / "intent.jsonl") if e.label in SMALL_LABELS and e.lang != "mixed"]
    out = []
    for label in SMALL_LABELS:
        train = [e for e in rows if e.label == label and e.split == "train"][:per_label]
        test = [e for e in rows if e.label == label and e.split == "test"][:test_per_label]
        out += [Example(e.text, e.label, "dev" if i % 6 == 0 else "train", e.lang) for i, e in enumerate(train)]
        out += test
    return out


@pytest.fixture(scope="session")
def small_data():
    """(labels, examples) of the 4-label slice."""
    return SMALL_LABELS, small_examples()


@pytest.fixture(scope="session")
def small_artifact(encoder, tmp_path_factory):
    """A LoRA adapter trained for real on the 4-label slice (a few epochs: seconds, not minutes)."""
    from models.tasks import TaskSpec
    from training.lora import TrainConfig, train_lora

    spec = TaskSpec.for_labels("small_intent", list(SMALL_LABELS))
    out = tmp_path_factory.mktemp("adapters") / "small_intent-v1"
    return train_lora(encoder, spec, small_examples(), out, version="v1", config=TrainConfig(epochs=4, patience=4))
