"""The operator page in real headless Chromium (Debian's), driven by Playwright: log in, see live
annotated frames and recognitions, open a camera's page — with no request leaving the app."""

from __future__ import annotations

import os
import shutil

import pytest
from helpers import headless_chromium

pytestmark = pytest.mark.slow

LIN = "Lin-Manuel Miranda"


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as chromium:
        context = chromium.new_context(viewport={"width": 1280, "height": 800})   # cookies live as long as it
        yield context
        context.close()


def _image_loaded(page, selector: str) -> bool:
    return page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0")


def test_operator_page_shows_live_annotated_feeds_and_recognitions(browser, live_system):
    app, cid = live_system.app, live_system.camera_id
    page = browser.new_page()
    requested = []
    page.on("request", lambda req: requested.append(req.url))

    page.goto(app.base + "/")
    assert "/login" in page.url, "the page was shown without logging in"
    page.fill("#token", "wrong")
    page.click("button[type=submit]")
    assert page.locator(".form-error").inner_text()
    page.fill("#token", app.token)
    page.click("button[type=submit]")
    page.wait_for_url(app.base + "/")

    tile = f'figure.tile[data-camera="{cid}"]'
    page.wait_for_selector(tile, timeout=30_000)
    page.wait_for_function(f"""() => {{ const i = document.querySelector('{tile} img');
                                         return i && i.complete && i.naturalWidth === 640; }}""", timeout=30_000)
    first = page.locator(f"{tile} img").screenshot()
    page.wait_for_timeout(1500)
    assert page.locator(f"{tile} img").screenshot() != first, "the feed does not move"
    assert "online" in page.locator(f"{tile} .status").inner_text()

    page.wait_for_selector(f"#event-list li.event.known >> text={LIN}", timeout=60_000)
    thumb = '#event-list li.event.known img.thumb'
    page.wait_for_function(f"() => {{ const i = document.querySelector('{thumb}'); return i && i.naturalWidth > 0; }}")
    version = app.get("/api/v1/model").json()["version"]
    assert version and version in page.locator("#model-version").inner_text()

    shot = live_system.logs / "operator-page.png"
    page.screenshot(path=str(shot))
    if os.environ.get("EDGEFACE_SCREENSHOT_DIR"):   # for a person to look at
        shutil.copy(shot, os.environ["EDGEFACE_SCREENSHOT_DIR"])

    page.click(f"{tile} a")
    page.wait_for_url(f"{app.base}/cameras/{cid}")
    page.wait_for_function("() => { const i = document.getElementById('feed'); return i.naturalWidth === 640; }",
                           timeout=30_000)
    page.wait_for_function("() => document.getElementById('camera-status').textContent.includes('online')")
    page.screenshot(path=str(live_system.logs / "camera-page.png"))
    if os.environ.get("EDGEFACE_SCREENSHOT_DIR"):
        shutil.copy(live_system.logs / "camera-page.png", os.environ["EDGEFACE_SCREENSHOT_DIR"])

    foreign = [u for u in requested if not u.startswith(app.base)]
    assert not foreign, f"the page fetched from elsewhere (must work offline): {foreign[:5]}"
    page.close()


def test_logged_in_browser_can_change_cameras_only_with_csrf_token(browser, live_system):
    app = live_system.app
    page = browser.new_page()
    page.goto(app.base + "/")           # the session cookie from the previous test (same profile)
    if "/login" in page.url:
        page.fill("#token", app.token)
        page.click("button[type=submit]")
        page.wait_for_url(app.base + "/")
    status = page.evaluate("""async () => (await fetch('/api/v1/cameras', {method: 'POST',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify({url: 'rtsp://127.0.0.1:9/x'})})).status""")
    assert status == 403, "a cookie-authenticated change without the CSRF token was accepted"
    page.fill("#add-camera input[name=url]", "rtsp://127.0.0.1:9/browser-added")
    page.click("#add-camera button")
    page.wait_for_selector("figure.tile >> text=127-0-0-1-9-browser-added", timeout=20_000)
    added = [c for c in app.get("/api/v1/cameras").json()["cameras"] if "browser-added" in c["url"]]
    assert len(added) == 1
    assert app.request("DELETE", f"/api/v1/cameras/{added[0]['id']}").status_code == 200
    page.close()
