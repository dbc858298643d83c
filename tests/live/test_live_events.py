"""edgeface.live.events: the event store."""

from __future__ import annotations

from edgeface.live.events import EventStore, RecognitionEvent
from edgeface.matcher import UNKNOWN


def test_event_store_filters_newest_first_and_persists(tmp_path):
    store = EventStore(max_events=3, directory=tmp_path)
    events = [store.add(RecognitionEvent("cam-a" if i % 2 else "cam-b", "Ada" if i < 3 else UNKNOWN, 0.5,
                                         [1, 2, 3, 4], time=1000.0 + i, snapshot=b"\xff\xd8jpeg%d" % i))
              for i in range(5)]
    assert [e.id for e in store.query()] == [e.id for e in events[:1:-1]]   # last 3, newest first
    assert [e.time for e in store.query(camera="cam-a")] == [1003.0]
    assert [e.time for e in store.query(name="Ada")] == [1002.0]
    assert [e.time for e in store.query(since=1003.0)] == [1004.0, 1003.0]
    assert [e.time for e in store.query(until=1003.0, limit=1)] == [1003.0]
    assert store.snapshot(events[4].id) == b"\xff\xd8jpeg4"
    assert store.snapshot(events[0].id) is None and not (tmp_path / f"{events[0].id}.jpg").exists()
    reopened = EventStore(max_events=3, directory=tmp_path)
    assert [e.id for e in reopened.query()] == [e.id for e in store.query()]
    assert reopened.snapshot(events[3].id) == b"\xff\xd8jpeg3"
    assert store.counts == {("cam-b", True): 2, ("cam-a", True): 1, ("cam-a", False): 1, ("cam-b", False): 1}
