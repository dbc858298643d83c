"""edgeface.live.alerts: the alert watchlist's rules, when they match, and the file that keeps them."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

from edgeface.events import RecognitionEvent
from edgeface.live.alerts import REPEAT_S, AlertRule, AlertRuleError, AlertWatchlist, parse_rule
from edgeface.matcher import UNKNOWN


def at_hour(hour: int) -> float:
    return datetime.now().replace(hour=hour, minute=30, second=0, microsecond=0).timestamp()


def seen(name: str, camera: str = "door", t: float | None = None) -> RecognitionEvent:
    return RecognitionEvent(camera, name, 0.4, [10, 60, 60, 10], time.time() if t is None else t, track=1)


def test_rules_match_the_person_the_cameras_and_the_hours():
    night = parse_rule({"who": "Jane Doe", "cameras": ["door", "yard"], "hours": [22, 6]})
    assert night.applies("Jane Doe", "door", at_hour(23)) and night.applies("Jane Doe", "yard", at_hour(5))
    assert not night.applies("Jane Doe", "door", at_hour(12)), "outside the hours"
    assert not night.applies("Jane Doe", "hall", at_hour(23)), "another camera"
    assert not night.applies("John Roe", "door", at_hour(23)), "another person"
    anyone_unknown = parse_rule({"who": UNKNOWN})
    assert anyone_unknown.applies(UNKNOWN, "anywhere", at_hour(3)) and not anyone_unknown.applies("Jane Doe", "x", 0)
    assert parse_rule({"who": "A", "hours": [9, 17]}).applies("A", "c", at_hour(16))
    assert not parse_rule({"who": "A", "hours": [9, 17]}).applies("A", "c", at_hour(17))
    assert parse_rule({"who": "A", "hours": [0, 24]}).hours is None


@pytest.mark.parametrize("body", [None, [], {"who": ""}, {"who": 3}, {"who": "A", "cameras": "door"},
                                  {"who": "A", "hours": [1]}, {"who": "A", "hours": [5, 5]},
                                  {"who": "A", "hours": [1, 25]}, {"who": "A", "hours": [1.5, 3]},
                                  {"who": "A", "colour": "red"}, {"who": "bad\nname"}])
def test_a_bad_rule_is_refused_saying_what_is_wrong(body):
    with pytest.raises(AlertRuleError) as refused:
        parse_rule(body)
    assert refused.value.message and refused.value.hint


def test_an_alert_goes_out_once_per_rule_camera_and_name_in_a_while(tmp_path):
    sent = []
    watchlist = AlertWatchlist(tmp_path / "alerts.json", sent.append, site="lab", camera_name=str.upper)
    rule = watchlist.add(parse_rule({"who": "Jane Doe", "cameras": ["door"]}))
    now = time.time()
    assert watchlist.check(seen("John Roe", t=now)) == [] and watchlist.check(seen("Jane Doe", "hall", now)) == []
    [alert] = watchlist.check(seen("Jane Doe", t=now))
    assert sent == [alert]
    assert alert["type"] == "alert" and alert["rule"] == rule.id and alert["name"] == "Jane Doe"
    assert alert["camera"] == "door" and alert["camera_name"] == "DOOR" and alert["site"] == "lab"
    assert alert["message_id"].startswith("alert-") and alert["seen_at"] == now and not alert["unknown"]
    assert watchlist.check(seen("Jane Doe", t=now + 5)) == [], "the same person on the same camera alerted again"
    assert len(watchlist.check(seen("Jane Doe", t=now + REPEAT_S + 1))) == 1


def test_the_rules_are_kept_and_a_damaged_file_is_said_not_used(tmp_path):
    path = tmp_path / "alerts.json"
    first = AlertWatchlist(path, lambda alert: None)
    kept = first.add(parse_rule({"who": UNKNOWN, "cameras": ["yard"], "hours": [22, 6]}))
    gone = first.add(parse_rule({"who": "Jane Doe"}))
    assert first.remove(gone.id) and not first.remove("no-such-rule")
    again = AlertWatchlist(path, lambda alert: None)
    assert again.rules() == [AlertRule(UNKNOWN, ("yard",), (22, 6), kept.id)] and again.error is None
    path.write_text(json.dumps({"format": "something else"}))
    damaged = AlertWatchlist(path, lambda alert: None)
    assert damaged.rules() == [] and "alerts.json" in damaged.error
    path.write_text("{not json")
    assert "not readable JSON" in AlertWatchlist(path, lambda alert: None).error


def test_an_alert_that_cannot_be_sent_does_not_stop_the_camera(tmp_path):
    def broken(alert):
        raise OSError("the broker's queue is gone")
    watchlist = AlertWatchlist(tmp_path / "alerts.json", broken)
    watchlist.add(parse_rule({"who": "Jane Doe"}))
    assert len(watchlist.check(seen("Jane Doe"))) == 1
