"""The event history: visits (one person's or one Unknown face's presence on one camera) in an
embedded SQLite database with their snapshots on disk, retention, and camera settings.

- ``db``: the database file (WAL) and its Alembic migrations;
- ``schema``: the tables; ``visits``: the rules that turn recognitions into visits;
- ``store``: ``History``, the writer thread and the queries; ``retention``: days and size limits;
- ``clips``: the visits' short videos (WebM), encoded on their own thread;
- ``review``: the operators' bulk actions (reviewed, delete, export), who is here now, camera states;
- ``cameras``: the operator's per-camera settings; ``legacy``: the earlier event store's import.
"""

from edgeface.history.review import Archive, Presence
from edgeface.history.store import EventQuery, History, Page, Visit

__all__ = ["Archive", "EventQuery", "History", "Page", "Presence", "Visit"]
