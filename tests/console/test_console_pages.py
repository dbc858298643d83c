"""The console's second pass in real headless Chromium, as the admin and as a viewer, at desktop
(1280x800) and phone (390x844) size, against the real app (LiveService, SQLite history) served on
loopback: every page fits the screen and is screenshotted; an offline camera's page finishes
loading with "no picture" and "offline since"; the "Here now" board shows who is present and drops
a person who leaves; the events page downloads a zip of the rows shown; the admin marks reviewed
and deletes in bulk. Visits come in as a camera's pipeline reports them (``History.record``)."""

from __future__ import annotations

import csv
import io
import threading
import time
import zipfile

import pytest
from console_helpers import ADMIN, VIEWER, PageProblems, artifact_dir, recognition
from helpers import free_port, headless_chromium
from webapp_helpers import wait_until
from werkzeug.serving import make_server

from edgeface.matcher import UNKNOWN
from edgeface.settings import EventSettings, HttpSettings, ModelSettings, Settings
from webapp import create_app

pytestmark = pytest.mark.slow

LIN, OBAMA = "Lin-Manuel Miranda", "Barack Obama"
GAP_S = 4.0                     # a person not seen for this long has left
WAIT_MS = 30_000
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
TOKENS = {"admin": ADMIN, "viewer": VIEWER}
COMBOS = [(role, size) for role in TOKENS for size in SIZES]


@pytest.fixture(scope="module")
def site(sample_model, tmp_path_factory):
    """The app on loopback with an offline camera, a past history and Lin on the door camera now
    (a thread reports them every second, as a camera would while they stay)."""
    settings = Settings(http=HttpSettings(api_token=ADMIN, viewer_token=VIEWER),
                        model=ModelSettings(file=str(sample_model)),
                        events=EventSettings(dir=str(tmp_path_factory.mktemp("pages") / "events"), visit_gap_s=GAP_S))
    app = create_app(settings)
    service = app.extensions["edgeface"]
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, name="console-pages-http", daemon=True)
    serving.start()
    staying = threading.Event()
    try:
        service.watcher.wait_loaded(30)
        client = app.test_client()
        added = client.post("/api/v1/cameras", json={"url": "rtsp://127.0.0.1:9/door", "id": "door"},
                            headers={"Authorization": "Bearer " + ADMIN})
        assert added.status_code == 201, added.text
        now = time.time()
        history = service.history
        for i, (camera, name, ago) in enumerate([("lobby", LIN, 3600), ("hall", OBAMA, 3000), ("hall", OBAMA, 2000),
                                                 ("yard", UNKNOWN, 1000)], start=100):
            history.record(recognition(camera, name, now - ago, track=i, distance=0.35 if name != UNKNOWN else 0.8))
        assert history.flush()
        unknown = next(v for v in service.query_events(_all()).events if v.unknown)
        service.label_event(unknown.id, "Jane Doe", "admin")

        def stay():
            while not staying.wait(1.0):
                history.record(recognition("door", LIN, time.time(), track=1, distance=0.3))
        stayer = threading.Thread(target=stay, name="console-pages-lin", daemon=True)
        stayer.start()
        base = f"http://127.0.0.1:{server.server_port}"
        wait_until(lambda: service.archive().present(), 30, "Lin to be here")
        yield type("Site", (), {"base": base, "service": service, "unknown_id": unknown.id})
        staying.set()
        stayer.join(5)
    finally:
        staying.set()
        server.shutdown()
        service.close()


def _all():
    from edgeface.history import EventQuery
    return EventQuery(limit=100)


@pytest.fixture(scope="module")
def chromium():
    with headless_chromium() as browser:
        yield browser


def logged_in(chromium, site, role: str, size: str):
    context = chromium.new_context(viewport=SIZES[size], accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    problems = PageProblems(page, site.base)
    page.goto(site.base + "/events")
    assert "/login" in page.url
    fits(page, f"login-{role}-{size}")
    page.fill("#token", TOKENS[role])
    page.click("button[type=submit]")
    page.wait_for_url(site.base + "/events")
    return page, problems


def fits(page, name: str) -> None:
    """No wider than the screen, no API path shown, and a screenshot for a person to look at."""
    width = page.viewport_size["width"]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{name}: the page is {scroll} px wide on a {width} px screen"
    shown = page.evaluate("document.body.innerText")
    assert "/api/" not in shown and "GET /" not in shown, f"{name}: an API path is shown to the operator"
    page.screenshot(path=str(artifact_dir() / f"{name}.png"), full_page=True)


@pytest.mark.parametrize(("role", "size"), COMBOS)
def test_every_page_fits_the_screen_and_an_offline_camera_says_so(chromium, site, role, size):
    page, problems = logged_in(chromium, site, role, size)
    lin_visit = next(v for v in site.service.query_events(_all()).events if v.name == LIN and v.camera == "door")
    pages = [("/", "grid", "#camera-grid figure.tile .status:text-matches('offline since')"),
             ("/present", "present", f"#board li[data-name='{LIN}']"),
             ("/events", "events", "#timeline li.event"),
             (f"/events/{lin_visit.id}", "event", "#event-facts dt"),
             (f"/events/{site.unknown_id}", "event-unknown", "#event-facts dt"),
             ("/people", "people", "#people-rows tr"),
             (f"/people/{LIN}", "person", "#person-cameras tbody tr"),
             ("/people/jane doe", "person-labelled", "#person-facts dt"),
             ("/unknown", "unknown", "#unknown-list li.card")]
    if role == "admin":
        pages.append(("/audit", "audit", "#audit-table"))
    # Last: its page is checked further below.
    pages.append(("/cameras/door", "camera-offline", "#camera-status:text-matches('offline since')"))
    for path, name, ready in pages:
        page.goto(site.base + path)            # waits for the load event: an offline camera's page too
        page.wait_for_selector(ready)
        fits(page, f"{name}-{role}-{size}")

    # The offline camera's page: "no picture" where the picture would be, and no stream asked for.
    assert page.eval_on_selector("#stage", "s => getComputedStyle(s, '::after').content") == '"no picture"'
    assert page.get_attribute("#feed", "src") is None
    assert "offline since" in page.inner_text("#camera-status")
    assert "analysis" not in page.inner_text("#camera-health"), "an offline camera shows an analysis lag"
    zone_help = page.inner_text("#zone-help")
    assert ("Click" in zone_help) == (role == "admin"), "a viewer is told to click the still"

    # Distances in words, the match explained, the face picked up counted rather than listed.
    page.goto(site.base + f"/events/{lin_visit.id}")
    page.wait_for_selector("#event-facts dt")          # filled once the visit's JSON came
    facts = page.inner_text("#event-facts")
    assert "close match" in facts and "d=" not in facts and "Tracks" not in facts
    assert "still here" in facts
    assert (page.locator("#review-toggle").count() == 1) == (role == "admin"), "a viewer is offered 'mark reviewed'"
    if role == "admin":
        page.click("#review-toggle")
        page.wait_for_selector("#review-toggle >> text=Mark not reviewed")
        assert site.service.event(lin_visit.id).reviewed_at is not None
        page.click("#review-toggle")
        page.wait_for_selector("#review-toggle >> text=Mark reviewed")
        assert site.service.event(lin_visit.id).reviewed_at is None
    problems.check()
    page.context.close()


@pytest.mark.parametrize(("role", "size"), COMBOS)
def test_the_board_shows_who_is_here_and_drops_who_leaves(chromium, site, role, size):
    page, problems = logged_in(chromium, site, role, size)
    site.service.history.record(recognition("hall", OBAMA, time.time(), track=7, distance=0.3))
    page.goto(site.base + "/present")
    lin, obama = f"#board li[data-name='{LIN}']", f"#board li[data-name='{OBAMA}']"
    page.wait_for_selector(obama)
    assert "door" in page.inner_text(lin) and "Before: lobby" in page.inner_text(lin)
    assert "hall" in page.inner_text(obama)
    fits(page, f"present-two-{role}-{size}")
    page.wait_for_selector(obama, state="detached", timeout=int((GAP_S + 20) * 1000))   # Obama left
    assert page.locator(lin).count() == 1, "Lin is still here and left the board"
    problems.check()
    page.context.close()


@pytest.mark.parametrize(("role", "size"), COMBOS)
def test_bulk_download_is_a_zip_of_the_rows_shown(chromium, site, role, size):
    page, problems = logged_in(chromium, site, role, size)
    page.goto(site.base + "/events?name=OBA")          # part of a name, another case
    page.wait_for_selector("#timeline li.event")
    shown = page.eval_on_selector_all("#timeline li.event", "ls => ls.map(l => l.dataset.event)")
    assert shown and {v.name for v in site.service.query_events(_all()).events if v.id in shown} == {OBAMA}
    assert (page.locator("#bulk-reviewed").count() == 1) == (role == "admin"), "bulk changes offered to a viewer"
    with page.expect_download() as download:
        page.click("#bulk-export")
    with zipfile.ZipFile(download.value.path()) as zipped:
        rows = list(csv.DictReader(io.StringIO(zipped.read("visits.csv").decode())))
        assert [r["id"] for r in rows] == shown
        assert all(r["snapshot"] in zipped.namelist() for r in rows)
    page.wait_for_selector("#bulk-result >> text=Downloaded")
    fits(page, f"events-bulk-{role}-{size}")
    page.goto(site.base + "/events?name=jane")          # an operator's label is found too
    page.wait_for_selector(f"#timeline li.event[data-event='{site.unknown_id}']")
    problems.check()
    page.context.close()


def test_the_admin_marks_reviewed_and_deletes_in_bulk(chromium, site):
    page, problems = logged_in(chromium, site, "admin", "desktop")
    page.goto(site.base + "/events?camera=hall")
    page.wait_for_selector("#timeline li.event")
    page.check("#select-all")
    page.click("#bulk-reviewed")
    page.wait_for_selector("#bulk-result >> text=marked reviewed")
    count = page.locator("#timeline li.event").count()
    assert page.locator("#timeline li.event .tag.reviewed").count() == count
    page.goto(site.base + "/events?camera=hall&reviewed=false")
    page.wait_for_selector("#timeline-empty", state="visible")
    page.goto(site.base + "/events?camera=hall&reviewed=true")
    page.wait_for_selector("#timeline li.event")
    first = page.get_attribute("#timeline li.event", "data-event")
    page.check(f"#timeline li.event[data-event='{first}'] input.pick")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#bulk-delete")
    page.wait_for_selector("#bulk-result >> text=Deleted 1 events")
    assert site.service.event(first) is None
    problems.check()
    page.context.close()


def test_the_lag_badge_and_what_a_lagging_tile_says(chromium, site):
    """The tile's words for a camera whose analysis is behind: amber, then red with no "nobody"."""
    page, problems = logged_in(chromium, site, "admin", "desktop")
    page.goto(site.base + "/")
    page.wait_for_selector("#camera-grid figure.tile")
    said = page.evaluate("""() => [0.3, 1.5, 5.4].map((lag) => {
        const cam = {online: true, enabled: true, analysis_lag_s: lag, people_now: [], fps_in: 10, fps_out: 10};
        const dl = document.createElement('dl'), people = document.createElement('div');
        renderHealth(dl, cam); renderPeopleNow(people, cam);
        const badge = dl.querySelector('.badge');
        return [badge ? badge.className : null, people.textContent]; })""")
    assert said[0] == [None, "nobody"]
    assert said[1] == ["badge lag warn", "nobody"]
    assert said[2][0] == "badge lag bad" and "nobody" not in said[2][1] and "5 s" in said[2][1]
    problems.check()
    page.context.close()


@pytest.mark.parametrize(("role", "size"), [("admin", "desktop"), ("viewer", "phone")])
def test_camera_groups_on_the_grid_and_the_events_page(chromium, site, role, size):
    site.service.change_camera("door", {"group": "Entrances"})     # as the admin's PATCH does
    try:
        page, problems = logged_in(chromium, site, role, size)
        page.goto(site.base + "/")
        page.wait_for_selector("#group-form:not([hidden])")
        page.select_option("#f-group", "Entrances")
        page.wait_for_url(lambda url: "group=Entrances" in url)
        page.wait_for_selector("#camera-grid figure.tile[data-camera='door']")
        fits(page, f"grid-group-{role}-{size}")
        page.goto(site.base + "/events?group=Entrances")
        page.wait_for_selector("#timeline li.event")
        cameras = page.eval_on_selector_all("#timeline li.event .meta",
                                            "ms => ms.map(m => m.textContent.split(' · ')[0])")
        assert set(cameras) == {"door"}
        assert page.eval_on_selector("#f-group", "s => s.value") == "Entrances"
        if role == "admin":
            page.goto(site.base + "/cameras/door")
            page.wait_for_function("document.getElementById('set-group').value === 'Entrances'")
            page.fill("#set-group", "Front")
            page.click("#settings-save")
            page.wait_for_selector("#settings-result.ok")
            assert site.service.camera_options("door").group == "Front"
        problems.check()
        page.context.close()
    finally:
        site.service.change_camera("door", {"group": None})
