"""The operator console in real headless Chromium (Debian's, driven by Playwright) against
``edgeface serve`` and a simulated camera over mDNS: every page, as the admin and as a viewer.
Any console error, uncaught exception, failed request or request leaving the app fails the test.
Screenshots of each page go to ``console_helpers.artifact_dir()``."""

from __future__ import annotations

import os
import secrets
import shutil
from types import SimpleNamespace

import pytest
import requests
from console_helpers import ADMIN, VIEWER, PageProblems, artifact_dir
from helpers import free_port, headless_chromium
from webapp_helpers import App, Camera, find_camera, unique, wait_until

pytestmark = pytest.mark.slow

LIN = "Lin-Manuel Miranda"
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def console(sample_model, media_dir, tmp_path_factory):
    """``edgeface serve`` with admin and viewer tokens and an event history, one simulated camera."""
    logs = tmp_path_factory.mktemp("console")
    register_host = unique("edgeface-console") + ".local"
    camera_token = secrets.token_urlsafe(12)
    env = {"EDGEFACE_API_TOKEN": ADMIN, "EDGEFACE_VIEWER_TOKEN": VIEWER, "EDGEFACE_CAMERA_TOKEN": camera_token,
           "EDGEFACE_REGISTER_HOST": register_host, "EDGEFACE_EVENTS_DIR": str(logs / "events")}
    app = App(free_port(), env, logs / "app.log", "--model", str(sample_model), "--mdns-interface", "127.0.0.1")
    camera = None
    try:
        app.wait_ready()
        camera = Camera(media_dir / "video" / "short_hamilton_clip.mp4", free_port(), unique("console-cam"),
                        register_host, camera_token, logs / "camera.log")
        cam = wait_until(lambda: find_camera(app, camera.port), what="the simulator to register over mDNS")
        yield SimpleNamespace(app=app, camera_id=cam["id"], camera_name=camera.name, logs=logs)
        for secret in (ADMIN, VIEWER, camera_token):
            assert secret not in app.log(), "a token reached the app's log"
    finally:
        if camera:
            camera.stop()
        app.stop()


@pytest.fixture(scope="module")
def chromium():
    with headless_chromium() as browser:
        yield browser


def open_page(chromium, console, token: str):
    """A fresh browser context logged in with ``token``; (page, problems)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    problems = PageProblems(page, console.app.base)
    page.goto(console.app.base + "/")
    assert "/login" in page.url, "the page was shown without logging in"
    shot(page, "login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(console.app.base + "/")
    return page, problems


def shot(page, name: str, full_page: bool = True) -> None:
    """A screenshot for a person to look at, after checking what a keyboard or screen reader needs."""
    unnamed = page.evaluate("""() => [...document.querySelectorAll(
            'input:not([type=hidden]), select, textarea, button, img')]
        .filter(e => e.tagName === 'IMG' ? !e.hasAttribute('alt')
                   : !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                     && !e.getAttribute('aria-labelledby') && !e.textContent.trim())
        .map(e => e.outerHTML.slice(0, 120))""")
    assert not unnamed, f"{name}: controls or images without a name: {unnamed}"
    page.screenshot(path=str(artifact_dir() / f"{name}.png"), full_page=full_page)


def api(console, path: str, token: str = ADMIN, method: str = "GET", **kw) -> requests.Response:
    return requests.request(method, console.app.base + path, headers={"Authorization": f"Bearer {token}"},
                            timeout=30, **kw)


def wait_for_events(console, query: str, what: str) -> list[dict]:
    return wait_until(lambda: api(console, "/api/v1/events?" + query).json()["events"], 120, what)


def assert_grid_fits(page, count: int) -> None:
    """``count`` tiles, all the same width, in as many columns as fit, none beyond the grid."""
    page.wait_for_function(f"document.querySelectorAll('#camera-grid figure.tile').length === {count}")
    boxes = page.eval_on_selector_all("#camera-grid figure.tile", "ts => ts.map(t => t.getBoundingClientRect())"
                                      ".map(r => [r.left, r.right, r.width])")
    grid = page.eval_on_selector("#camera-grid", """g => { const r = g.getBoundingClientRect(), s = getComputedStyle(g);
        return [r.left, r.right, parseFloat(s.getPropertyValue('--tile-min')), parseFloat(s.columnGap)]; }""")
    widths = {round(w) for _, _, w in boxes}
    assert len(widths) == 1, f"tiles of different widths: {widths}"
    columns = len({round(left) for left, _, _ in boxes})
    assert all(right <= grid[1] + 1 for _, right, _ in boxes), "a tile sticks out of the grid"
    tile_min, gap = grid[2], grid[3]
    assert columns == min(count, int((grid[1] - grid[0] + gap) // (tile_min + gap))), (count, columns, tile_min)
    rows = len({round(top) for top in page.eval_on_selector_all(
        "#camera-grid figure.tile", "ts => ts.map(t => t.getBoundingClientRect().top)")})
    assert rows == -(-count // columns), f"{count} tiles in {columns} columns take {rows} rows"
    if count == 1:
        assert abs(boxes[0][2] - (grid[1] - grid[0])) < 2, "one camera does not fill the width"


def test_admin_walks_every_page(chromium, console):
    app, cid = console.app, console.camera_id
    page, problems = open_page(chromium, console, ADMIN)
    tile = f'figure.tile[data-camera="{cid}"]'
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip", "the first Tab is not 'skip to content'"

    # Live grid: the tile streams annotated frames, shows its health and who is on it.
    page.wait_for_function(f"""() => {{ const i = document.querySelector('{tile} img');
                                         return i && i.complete && i.naturalWidth === 640; }}""")
    page.wait_for_function(f"document.querySelector('{tile} .status').textContent.startsWith('online since')")
    page.wait_for_selector(f"{tile} .people-now .chip >> text={LIN}")
    assert page.inner_text(f"{tile} .cam-name") == console.camera_name, "the name the camera announced is not shown"
    health = page.inner_text(f"{tile} .health")
    assert "frames in per s" in health and "frames shown per s" in health
    assert_grid_fits(page, 1)
    shot(page, "live-grid-1")
    icon = page.evaluate("async () => (await fetch('/favicon.ico')).headers.get('content-type')")
    assert icon.startswith("image/svg")

    # 4 and 9 tiles (offline cameras: their reason shows on the tile).
    extra: list[str] = []
    for count in (4, 9):
        while len(extra) < count - 1:
            added = api(console, "/api/v1/cameras", method="POST",
                        json={"url": f"rtsp://127.0.0.1:9/grid{len(extra)}", "id": f"grid{len(extra)}"})
            assert added.status_code == 201, added.text
            extra.append(added.json()["id"])
        assert_grid_fits(page, count)
        page.wait_for_function("document.querySelector('figure.tile[data-camera=\"grid0\"] .status')"
                               ".textContent.startsWith('offline since')")
        shot(page, f"live-grid-{count}")
    for camera_id in extra:
        assert api(console, f"/api/v1/cameras/{camera_id}", method="DELETE").status_code == 200
    assert_grid_fits(page, 1)

    # Timeline: every event, then filtered; the filters stay in the URL under the API's names.
    wait_for_events(console, f"name={LIN}", "a visit of " + LIN)
    unknown = wait_for_events(console, "unknown=true", "an Unknown visit")
    page.goto(app.base + "/events")
    page.wait_for_selector("#timeline li.event")
    page.wait_for_function("() => [...document.querySelectorAll('#timeline img.thumb')].some(i => i.naturalWidth > 0)")
    shot(page, "events")
    page.fill("#f-name", LIN)
    page.select_option("#f-unknown", "false")
    page.select_option("#f-camera", cid)
    page.click("#filters button[type=submit]")
    page.wait_for_url(lambda url: all(f in url for f in ("name=Lin-Manuel+Miranda", f"camera={cid}", "unknown=false")))
    page.wait_for_selector("#timeline li.event")
    names = page.eval_on_selector_all("#timeline li.event .name", "ns => ns.map(n => n.textContent)")
    expected = api(console, f"/api/v1/events?name={LIN}&camera={cid}&unknown=false").json()["events"]
    assert names and set(names) == {LIN} and len(names) == len(expected)
    shot(page, "events-filtered")
    page.select_option("#f-unknown", "true")
    page.fill("#f-name", "")
    page.click("#filters button[type=submit]")
    page.wait_for_url(lambda url: "unknown=true" in url and "name=" not in url)
    page.wait_for_selector("#timeline li.event")
    assert set(page.eval_on_selector_all("#timeline li.event", "ls => ls.map(l => l.className)")) == {"event unknown"}
    page.fill("#f-since", "2099-01-01T00:00:00")
    page.click("#filters button[type=submit]")
    page.wait_for_url(lambda url: "since=4" in url)
    page.wait_for_selector("#timeline-empty", state="visible")

    # One event: the whole frame with the face boxed, the face, the facts.
    page.goto(app.base + f"/events?name={LIN}")
    page.click("#timeline li.event a")
    page.wait_for_url(lambda url: "/events/" in url)
    page.wait_for_function("() => { const i = document.getElementById('event-frame'); return i.naturalWidth > 0; }")
    box = page.eval_on_selector("#event-box rect", "r => r.getBBox().width")
    assert box > 10, "no face box on the frame"
    facts = page.inner_text("#event-facts")
    assert LIN in facts and "Best match" in facts and "match (face distance" in facts and "Model version" in facts
    shot(page, "event")

    # Face library and one person.
    identities = api(console, "/api/v1/model").json()["identities"]
    page.goto(app.base + "/people")
    page.wait_for_selector("#people-rows tr")
    listed = page.eval_on_selector_all("#people-rows tr", "rs => rs.map(r => r.dataset.name)")
    assert sorted(listed) == sorted(identities)
    shot(page, "people")
    page.click(f'#people-rows tr[data-name="{LIN}"] a')
    page.wait_for_selector("#person-cameras tbody tr")
    page.wait_for_selector("#timeline li.event")
    shot(page, "person")

    # The Unknown queue: "this is …".
    page.goto(app.base + "/unknown")
    card = f'#unknown-list li.card[data-event="{unknown[0]["id"]}"]'
    page.wait_for_selector(card)
    shot(page, "unknown")
    page.fill(f"{card} input[name=name]", "Jane Doe")
    page.click(f"{card} button[type=submit]")
    page.wait_for_selector(f"{card} .labelled >> text=Jane Doe")
    labelled = api(console, f"/api/v1/events/{unknown[0]['id']}").json()
    assert labelled["label"] == "Jane Doe" and labelled["labelled_by_role"] == "admin"

    # One camera: full screen, settings (rename, a zone drawn on the still).
    page.goto(app.base + f"/cameras/{cid}")
    page.wait_for_function("() => document.getElementById('feed').naturalWidth === 640")
    page.wait_for_function("() => document.getElementById('zone-still').naturalWidth > 0")
    page.click("#fullscreen")
    page.wait_for_function("() => document.fullscreenElement && document.fullscreenElement.id === 'stage'")
    # The label follows the fullscreenchange event, which fires after fullscreenElement is set.
    page.wait_for_function("() => document.getElementById('fullscreen').textContent === 'Leave full screen'")
    shot(page, "camera-fullscreen", full_page=False)
    page.click("#fullscreen")            # the same button leaves full screen
    page.wait_for_function("() => !document.fullscreenElement")
    page.fill("#set-name", "Front door")
    page.click("#zone-clear")
    canvas = page.locator("#zone-canvas").bounding_box()
    for fx, fy in ((0.02, 0.02), (0.98, 0.02), (0.98, 0.98), (0.02, 0.98)):
        page.mouse.click(canvas["x"] + fx * canvas["width"], canvas["y"] + fy * canvas["height"])
    page.click("#settings-save")
    page.wait_for_selector("#settings-result.ok")
    saved = api(console, f"/api/v1/cameras/{cid}").json()
    assert saved["name"] == "Front door" and len(saved["zone"]) == 4
    assert all(0 <= v <= 1 for point in saved["zone"] for v in point)
    page.wait_for_function("document.getElementById('camera-name').textContent === 'Front door'")
    # A main stream to crop faces from: nothing listens there, so faces come from the detect
    # stream, and the health says why; the URL comes back redacted, as a hint, never to resend.
    page.fill("#set-identify", f"rtsp://admin:Secr3t@127.0.0.1:{free_port()}/main")
    page.click("#settings-save")
    page.wait_for_selector("#settings-result.ok")
    # The form shows the camera as read again after the save (a moment later than the "saved").
    page.wait_for_function("document.getElementById('set-identify').placeholder.includes('admin:***@')")
    assert page.input_value("#set-identify") == ""
    page.wait_for_selector("#camera-health >> text=detect stream (identify stream offline")
    assert "Secr3t" not in page.content()
    shot(page, "camera")
    page.click("#identify-clear")
    page.wait_for_selector("#settings-result >> text=detect stream now")
    assert api(console, f"/api/v1/cameras/{cid}").json()["identify_url"] is None
    page.goto(app.base + "/")
    page.wait_for_selector(f"{tile} .cam-name >> text=Front door")

    # Privacy: one person's whole history deleted in one go.
    page.goto(app.base + "/people/" + LIN)
    page.wait_for_selector("#timeline li.event")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-history")
    page.wait_for_selector("#delete-result >> text=Deleted")
    deleted = int(page.inner_text("#delete-result").split()[1])
    assert deleted >= 1 and page.locator("#timeline li.event").count() == 0
    problems.check()
    page.context.close()


def test_viewer_sees_everything_and_changes_nothing(chromium, console):
    app, cid = console.app, console.camera_id
    page, problems = open_page(chromium, console, VIEWER)
    assert "viewer" in page.inner_text("#role")
    page.wait_for_selector(f'figure.tile[data-camera="{cid}"]')
    assert page.locator("#add-camera").count() == 0
    wait_for_events(console, "unknown=true", "an Unknown visit")
    page.goto(app.base + "/unknown")
    page.wait_for_selector("#unknown-list li.card")
    assert page.locator("#unknown-list input[name=name]").count() == 0, "a viewer is offered labelling"
    shot(page, "unknown-viewer")
    page.goto(app.base + f"/cameras/{cid}")
    page.wait_for_function("() => document.getElementById('feed').naturalWidth === 640")
    assert page.eval_on_selector("#camera-settings fieldset", "f => f.disabled"), "a viewer can edit settings"
    assert page.locator("#remove-camera").count() == 0
    shot(page, "camera-viewer")
    page.goto(app.base + f"/people/{LIN}")
    page.wait_for_selector("#person-facts dt")
    assert page.locator("#delete-history").count() == 0
    # Even straight at the API, with the page's CSRF token and the session cookie: 403.
    csrf = page.get_attribute('meta[name="csrf-token"]', "content")
    problems.expect("PATCH", f"/api/v1/cameras/{cid}", 403)
    status = page.evaluate("""async ([cid, csrf]) => (await fetch('/api/v1/cameras/' + cid, {method: 'PATCH',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: '{"name": "hijacked"}'})).status""",
                           [cid, csrf])
    assert status == 403
    assert api(console, f"/api/v1/cameras/{cid}").json()["name"] != "hijacked"

    # On a phone, with a live camera: the grid and the camera page fit the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    for path, name in (("/", "live-grid-phone-viewer"), (f"/cameras/{cid}", "camera-phone-viewer")):
        page.goto(app.base + path)
        page.wait_for_function("() => [...document.querySelectorAll('img.feed')].some(i => i.naturalWidth === 640)")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide on a 390 px phone"
        shot(page, name)
    problems.check()
    page.context.close()


def test_the_admin_sets_a_cameras_privacy(chromium, console):
    """The camera page's privacy controls (docs/privacy.md): the site's setting until the admin
    chooses; saved through the API; back to the site's; they fit a phone."""
    app, cid = console.app, console.camera_id
    page, problems = open_page(chromium, console, ADMIN)
    page.goto(app.base + f"/cameras/{cid}")
    page.wait_for_function("() => document.getElementById('feed').naturalWidth === 640")
    page.wait_for_function("() => document.querySelector('#set-privacy option').textContent.includes('blur-unknown')")
    assert page.input_value("#set-privacy") == "" and page.input_value("#set-captures") == ""
    assert page.is_hidden("#unblurred-link")
    page.select_option("#set-privacy", "blur-all-but-watchlist")
    page.fill("#set-watchlist", f"{LIN}\n")
    page.select_option("#set-captures", "allowed")
    page.check("#set-unblurred")
    page.fill("#set-retention", "7")
    page.click("#settings-save")
    page.wait_for_selector("#settings-result.ok")
    saved = api(console, f"/api/v1/cameras/{cid}").json()
    assert (saved["privacy"], saved["watchlist"], saved["captures"], saved["unblurred"], saved["retention_days"],
            saved["from_site"]) == ("blur-all-but-watchlist", [LIN], "allowed", "allowed", 7.0, [])
    page.wait_for_selector("#unblurred-link:not([hidden])")
    shot(page, "camera-privacy")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_function("() => document.getElementById('set-privacy').value === 'blur-all-but-watchlist'")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "camera-privacy-phone")
    for select in ("#set-privacy", "#set-captures"):
        page.select_option(select, "")
    page.fill("#set-watchlist", "")
    page.uncheck("#set-unblurred")
    page.fill("#set-retention", "")
    page.click("#settings-save")
    back = wait_until(lambda: (c := api(console, f"/api/v1/cameras/{cid}").json())["from_site"] and c, 30,
                      "the camera back on the site's settings")
    assert (back["privacy"], back["captures"], back["unblurred"], back["retention_days"]) == \
        ("blur-unknown", "denied", "denied", None)
    assert back["from_site"] == ["privacy", "watchlist", "captures"]
    problems.check()
    page.context.close()


def test_pages_tell_what_is_missing(chromium, console):
    page, problems = open_page(chromium, console, ADMIN)
    problems.expect("GET", "/api/v1/events/no-such-event", 404)
    problems.expect("GET", "/cameras/no-such-camera", 404)
    page.goto(console.app.base + "/events/no-such-event")
    page.wait_for_selector("#load-error:not([hidden])")
    assert "no such event" in page.inner_text("#load-error")
    shot(page, "event-missing")
    page.goto(console.app.base + "/cameras/no-such-camera")
    assert "No camera" in page.inner_text("h1")
    problems.check()
    page.context.close()


def test_screenshots_are_kept(console):
    """For a person to look at (listed in the issue's note); copied where CI keeps artifacts."""
    shots = sorted(p.name for p in artifact_dir().glob("*.png"))
    assert {"live-grid-1.png", "events.png", "event.png", "unknown.png", "camera.png"} <= set(shots), shots
    if os.environ.get("EDGEFACE_SCREENSHOT_DIR"):
        for name in shots:
            shutil.copy(artifact_dir() / name, os.environ["EDGEFACE_SCREENSHOT_DIR"])
