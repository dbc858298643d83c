"""Repeat strangers (edgeface.history.strangers): an Unknown face seen again keeps its site-local
id across cameras and restarts; a different face gets another; operators merge and name groups."""

from __future__ import annotations

import time

import numpy as np
import pytest
from helpers import history_at
from test_history import event

from edgeface.history import EventQuery, History
from edgeface.matcher import UNKNOWN

A, B = 0.0, 0.2          # np.full(128, x): faces 0.2 * sqrt(128) = 2.3 apart, nothing alike



@pytest.fixture
def folder(tmp_path):
    return tmp_path / "events"


def visits(h: History, **query):
    h.flush()
    return h.query(EventQuery(limit=100, **query)).events


def test_a_stranger_seen_again_elsewhere_and_after_a_restart_keeps_one_id(folder):
    now = time.time()
    h = History(folder, gap_s=5).start()
    try:
        h.record(event("door", UNKNOWN, now - 100, track=1, embedding=A))
        h.record(event("yard", UNKNOWN, now - 50, track=2, embedding=A + 0.01))   # 0.11 away: the same face
        h.record(event("door", UNKNOWN, now - 40, track=3, embedding=B))          # someone else
        h.record(event("door", "Ada", now - 30, track=4, embedding=0.5))          # named: nobody's stranger
        seen = {(v.camera, v.name, round(v.started_at)): v for v in visits(h)}
        first, again, other = (seen[("door", UNKNOWN, round(now - 100))], seen[("yard", UNKNOWN, round(now - 50))],
                               seen[("door", UNKNOWN, round(now - 40))])
        assert first.stranger is not None and again.stranger == first.stranger
        assert other.stranger not in (None, first.stranger)
        assert seen[("door", "Ada", round(now - 30))].stranger is None
        [group] = [g for g in h.strangers.groups() if g.id == first.stranger]
        assert (group.visits, sorted(group.cameras), group.label) == (2, ["door", "yard"], f"Unknown {first.stranger}")
        assert group.first_seen == pytest.approx(now - 100) and group.last_seen >= now - 50
        assert set(group.faces) == {first.id, again.id}
    finally:
        h.close()
    h = History(folder, gap_s=5).start()          # the groups are in the database
    try:
        h.record(event("gate", UNKNOWN, now, track=9, embedding=A - 0.01))
        [latest] = visits(h, camera="gate")
        assert latest.stranger == first.stranger and latest.as_json()["stranger"] == first.stranger
        assert h.strangers.group(first.stranger).visits == 3
    finally:
        h.close()


def test_the_threshold_is_conservative_a_face_just_beyond_starts_a_group(folder):
    h = History(folder, gap_s=5, stranger_distance=0.3).start()
    try:
        now = time.time()
        h.record(event("door", UNKNOWN, now - 20, track=1, embedding=A))
        h.record(event("yard", UNKNOWN, now - 10, track=2, embedding=A + 0.03))    # 0.34 away: beyond 0.3
        assert len({v.stranger for v in visits(h)}) == 2
    finally:
        h.close()


def test_merging_moves_every_visit_open_ones_too_and_naming_is_kept(folder):
    h = History(folder, gap_s=30).start()
    try:
        now = time.time()
        h.record(event("door", UNKNOWN, now - 20, track=1, embedding=A))
        h.record(event("yard", UNKNOWN, now - 10, track=2, embedding=B))
        door, yard = (next(v for v in visits(h) if v.camera == c) for c in ("door", "yard"))
        assert h.merge_strangers(yard.stranger, door.stranger)
        assert not h.merge_strangers(yard.stranger, door.stranger), "merged away: no such group any more"
        assert not h.merge_strangers(door.stranger, door.stranger)
        h.record(event("yard", UNKNOWN, now - 5, track=2, embedding=B))          # the open visit is written again
        assert {v.stranger for v in visits(h)} == {door.stranger}
        assert h.strangers.group(door.stranger).visits == 2 and h.strangers.group(yard.stranger) is None
        h.strangers.name(door.stranger, "Newcomer", "admin")
        assert (h.strangers.group(door.stranger).name, h.strangers.group(door.stranger).named_by_role) == \
            ("Newcomer", "admin")
        h.delete_person("Newcomer")          # privacy: the group forgets the name
        assert h.strangers.group(door.stranger).name is None
    finally:
        h.close()


def test_an_older_database_gets_the_strangers_table_its_visits_in_no_group(tmp_path):
    folder = tmp_path / "events"
    history_at(folder, "0004_review",
               "INSERT INTO events (id, camera, name, unknown, started_at, last_seen, ended, tracks, model_version, "
               "score, bytes) VALUES ('old', 'door', 'Unknown', 1, 1, 2, 1, '[1]', 'v0', 0, 0)")
    h = History(folder)
    try:
        [old] = h.query(EventQuery()).events
        assert (old.id, old.stranger) == ("old", None) and h.strangers.groups() == [] and len(h.strangers) == 0
        assert h.strangers.assign(np.zeros(128, np.float32)) == 1
    finally:
        h.close()
