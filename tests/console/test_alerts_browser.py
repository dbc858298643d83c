"""The alert watchlist end to end: ``edgeface serve`` with a real mosquitto, the benchmark's camera
(Lin-Manuel Miranda on stage), and headless Chromium. The admin adds "Lin-Manuel Miranda on this
camera" in the console; the notification appears on the open page and the alert reaches
``edgeface/<site>/alerts`` on the broker. A viewer sees the list and cannot change it. Screenshots
at desktop and phone size."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest
import requests
from console_helpers import ADMIN, VIEWER, artifact_dir, logged_in_page, served_with_stamped_camera
from helpers import headless_chromium
from mqtt_helpers import Broker, Recorder
from webapp_helpers import wait_until

pytestmark = pytest.mark.slow

LIN = "Lin-Manuel Miranda"
SITE = "lab-7"
WAIT_MS = 90_000
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def alert_site(sample_model, media_dir, tmp_path_factory):
    logs = tmp_path_factory.mktemp("alerts")
    broker = Broker(logs / "broker").start()
    recorder = Recorder(broker.port, f"edgeface/{SITE}/alerts")
    try:
        with served_with_stamped_camera(sample_model, media_dir / "video" / "short_hamilton_clip.mp4", logs,
                                        {"EDGEFACE_MQTT_URL": broker.url, "EDGEFACE_SITE": SITE}) as app:
            yield SimpleNamespace(app=app, recorder=recorder, camera_id="stage")
    finally:
        recorder.close()
        broker.stop()


@pytest.fixture(scope="module")
def chromium():
    with headless_chromium() as browser:
        yield browser


def logged_in(chromium, site, token: str, size: str):
    return logged_in_page(chromium, site.app.base, token, SIZES[size], WAIT_MS)


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width} px wide"


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_admin_adds_an_alert_and_the_notification_and_the_mqtt_message_come(chromium, alert_site, size):
    site = alert_site
    page, problems = logged_in(chromium, site, ADMIN, size)
    page.goto(site.app.base + "/alerts")
    page.wait_for_selector("#rule-cameras input[value=stage]")
    page.fill("#rule-who", LIN)
    page.check("#rule-cameras input[value=stage]")
    page.click("#rule-save")
    page.wait_for_selector("#rule-result >> text=Alert added.")
    rule = page.get_attribute("#rules li.rule", "data-rule")
    assert LIN in page.inner_text(f"#rules li[data-rule='{rule}']")
    # The page stays open: the clip loops, and Lin is named again at the next loop.
    toast = page.wait_for_selector(f".alert-toast[data-rule='{rule}']")
    assert LIN in toast.inner_text() and "stage" in toast.inner_text()
    fits(page)
    page.screenshot(path=str(artifact_dir() / f"alerts-admin-{size}.png"))
    messages = wait_until(lambda: [json.loads(p) for _, p, _ in site.recorder.all(f"edgeface/{SITE}/alerts")
                                   if json.loads(p)["rule"] == rule], what="the alert on the broker")
    received = time.time()
    alert = messages[0]
    assert alert["type"] == "alert" and alert["name"] == LIN and alert["camera"] == "stage" and alert["site"] == SITE
    print(f"alert {alert['message_id']}: sent {alert['sent_at'] - alert['seen_at']:.3f} s after the frame, "
          f"received by {received - alert['seen_at']:.3f} s (an upper bound: polled)")
    page.click(f".alert-toast[data-rule='{rule}'] .dismiss")
    assert page.locator(f".alert-toast[data-rule='{rule}']").count() == 0
    page.click(f"#rules li[data-rule='{rule}'] .remove-rule")
    page.wait_for_selector(f"#rules li[data-rule='{rule}']", state="detached")
    problems.check()
    page.context.close()


def test_a_viewer_sees_the_alerts_and_cannot_change_them(chromium, alert_site):
    site = alert_site
    added = site.app.request("POST", "/api/v1/alerts", json={"who": "Unknown", "hours": [22, 6]})
    assert added.status_code == 201, added.text
    page, problems = logged_in(chromium, site, VIEWER, "phone")
    page.goto(site.app.base + "/alerts")
    page.wait_for_selector(f"#rules li[data-rule='{added.json()['id']}']")
    assert "Any unknown face on every camera, from 22:00 to 06:00" in page.inner_text("#rules")
    assert page.locator(".remove-rule").count() == 0 and page.is_disabled("#rule-save")
    fits(page)
    page.screenshot(path=str(artifact_dir() / "alerts-viewer-phone.png"))
    refused = requests.post(site.app.base + "/api/v1/alerts", json={"who": "X"}, timeout=10,
                            headers={"Authorization": f"Bearer {VIEWER}"})
    assert refused.status_code == 403
    bad = site.app.request("POST", "/api/v1/alerts", json={"who": "X", "hours": [3, 3]})
    assert bad.status_code == 400 and "hours" in bad.json()["error"]
    assert site.app.request("DELETE", f"/api/v1/alerts/{added.json()['id']}").status_code == 200
    problems.check()
    page.context.close()
