"""The history database: one SQLite file in WAL mode, brought to the newest schema at start-up.

Alembic (SQLAlchemy's migration tool) keeps the schema's version in the file, so an older pod's
database is upgraded in place when a newer app starts on the same volume. WAL lets the API read
while the writer thread writes; ``synchronous=NORMAL`` is safe with WAL (a power cut may lose the
last writes, never corrupt the file).
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import QueuePool

from edgeface.errors import EdgefaceError

DB_NAME = "history.sqlite3"
MIGRATIONS = Path(__file__).with_name("migrations")


def open_database(directory: Path) -> Engine:
    """The database in ``directory`` (created if needed), migrated to the newest revision."""
    path = directory / DB_NAME
    # Alembic announces each of its plugins at INFO on every start: noise in the app's log.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    engine = create_engine(f"sqlite:///{path}", poolclass=QueuePool, pool_size=4, max_overflow=8,
                           connect_args={"check_same_thread": False, "timeout": 10})
    event.listen(engine, "connect", _pragmas)
    try:
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except Exception as err:
        engine.dispose()
        raise EdgefaceError(f"cannot open the event history {path}: {err}",
                            "check EDGEFACE_EVENTS_DIR is a writable folder with free space") from err
    return engine


def _pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
