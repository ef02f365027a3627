"""Relational storage: SQLAlchemy models, sessions and Alembic migrations."""

from services.common.storage.db import Database, make_engine
from services.common.storage.migrate import upgrade

__all__ = ["Database", "make_engine", "upgrade"]
