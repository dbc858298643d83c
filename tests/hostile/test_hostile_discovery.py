"""A WS-Discovery flood (round 3, row 4): 1000 multicast messages of 60 kB with no action, sent on
loopback to a real listener. The WSDiscovery library logs each one whole (the app log grew 60 MB
in 12 s); its records are now cut short and let through once a minute, and discovery still works."""

from __future__ import annotations

import logging
import socket

from test_camera_discovery import Announcer
from webapp_helpers import wait_until

from edgeface.cameras.discovery import GROUP, PORT, CappedLog, OnvifDiscovery

NO_ACTION = ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/'
             'soap-envelope"><soap:Header></soap:Header><soap:Body><x>' + "A" * 60_000 + "\x1b[2J</x>"
             "</soap:Body></soap:Envelope>").encode()


def flood(count: int = 1000) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
        out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        for _ in range(count):
            out.sendto(NO_ACTION, (GROUP, PORT))


def test_a_flood_of_messages_without_action_logs_one_short_line(caplog):
    caplog.set_level(logging.DEBUG)
    found = OnvifDiscovery("127.0.0.1", probe_interval_s=3600).start()
    cam = Announcer(9, answer_probes=False, name="After the flood")
    try:
        flood()
        cam.hello()                  # after the flood on the same path: once listed, the flood was read
        wait_until(lambda: found.get(cam.id), what="the camera announced after the flood")
    finally:
        cam.close()
        found.close()
    # At most one line a minute (none here if another test's line came less than a minute ago: the
    # cap is process-wide); unfiltered, each message that got through was logged whole.
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("wsdiscovery")]
    assert len(logged) <= 2, len(logged)
    assert sum(map(len, logged)) < 1000 and "\x1b" not in "".join(logged), logged


def test_the_app_log_stays_small_under_the_flood(router_app):
    before = len(router_app.log())
    cam = Announcer(9, answer_probes=False, name="After the app flood")
    try:
        flood()
        cam.hello()
        wait_until(lambda: [d for d in router_app.get("/api/v1/discovered").json()["discovered"] if d["id"] == cam.id],
                   what="the camera announced after the flood")
    finally:
        cam.close()
    grown = len(router_app.log()) - before
    print(f"\napp log grew {grown} bytes during 1000 messages of 60 kB")
    assert grown < 20_000, router_app.log()[before:before + 3000]


def test_capped_log_cuts_and_counts():
    record = logging.LogRecord("wsdiscovery.message", logging.WARNING, __file__, 1, "No action from %s: %s",
                               ("10.0.0.9", "B" * 5000 + "\n\x00"), None)
    capped = CappedLog(every_s=3600, max_chars=50)
    assert capped.filter(record)
    assert len(record.getMessage()) < 100 and "5" in record.getMessage() and "\n" not in record.getMessage()
    assert not capped.filter(logging.LogRecord("x", logging.WARNING, __file__, 1, "again", (), None))
