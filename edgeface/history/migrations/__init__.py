"""Alembic migrations of the history database, run by ``edgeface.history.db.open_database``."""
