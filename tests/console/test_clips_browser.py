"""Clips and the day timeline end to end: ``edgeface serve`` with the benchmark's camera (Lin-Manuel
Miranda on stage), clips recorded by the camera's recorder from the frames it shows (a 5 s cap, so
one is kept within seconds), headless Chromium. A visit's clip plays to its end on the visit page
(admin at desktop size, viewer at phone size; the viewing is in the audit trail as clip.view); the
timeline lists the day's visits on the camera and filters them by person and Unknown. Screenshots
at both sizes."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from console_helpers import (
    ADMIN,
    VIEWER,
    PageProblems,
    artifact_dir,
    log_in,
    logged_in_page,
    recognition,
    served,
    served_with_stamped_camera,
)
from helpers import headless_chromium
from webapp_helpers import wait_until

from edgeface.history import EventQuery

pytestmark = pytest.mark.slow

WAIT_MS = 90_000
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
ROLES = {"desktop": ADMIN, "phone": VIEWER}


@pytest.fixture(scope="module")
def site(sample_model, media_dir, tmp_path_factory):
    logs = tmp_path_factory.mktemp("clips")
    with served_with_stamped_camera(sample_model, media_dir / "video" / "short_hamilton_clip.mp4", logs,
                                    {"EDGEFACE_CLIPS_MAX_S": "5"}) as app:
        yield app


@pytest.fixture(scope="module")
def chromium():
    with headless_chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def visit_with_clip(site) -> dict:
    """A visit on stage with a clip kept (the first within seconds: the 5 s cap closes it)."""
    found: list[dict] = []

    def clipped():
        for ev in site.get("/api/v1/events?camera=stage&limit=100").json()["events"]:
            detail = site.get(f"/api/v1/events/{ev['id']}").json()
            if detail["clips"]:
                found.append(detail)
                return True
        return False
    wait_until(clipped, timeout=90, what="a visit with a clip")
    return found[0]


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width} px wide"


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_visits_clip_plays_to_its_end(chromium, site, visit_with_clip, size):
    clip = visit_with_clip["clips"][0]
    assert clip["url"].endswith(".webm") and clip["bytes"] > 0 and 0 < clip["duration_s"] <= 5.5 + 3 + 1
    served = site.get(clip["url"])
    assert served.status_code == 200 and served.headers["Content-Type"] == "video/webm"
    assert served.content[:4] == b"\x1a\x45\xdf\xa3"            # an EBML (WebM) header
    page, problems = logged_in_page(chromium, site.base, ROLES[size], SIZES[size], WAIT_MS)
    page.goto(f"{site.base}/events/{visit_with_clip['id']}")
    video = page.locator("#clip-area video").first
    video.wait_for()
    assert page.locator("#clip-none").is_hidden()
    ended = page.evaluate("""() => new Promise((resolve, reject) => {
        const v = document.querySelector('#clip-area video');
        v.muted = true;
        v.addEventListener('ended', () => resolve({ended: true, duration: v.duration, width: v.videoWidth}));
        v.addEventListener('error', () => reject(new Error('video error ' + (v.error && v.error.code))));
        v.play().catch(reject);
    })""")
    assert ended["ended"] and ended["width"] > 0 and ended["duration"] == pytest.approx(clip["duration_s"], abs=1.0)
    fits(page)
    page.screenshot(path=str(artifact_dir() / f"clip-{size}.png"), full_page=True)
    problems.check()
    page.context.close()
    wait_until(lambda: any(r["target"] == visit_with_clip["id"] for r in
                           site.get("/api/v1/audit?action=clip.view").json()["rows"]), what="clip.view in the trail")


def test_a_visit_without_a_clip_says_so(chromium, make_app):
    """A visit no clip shows (recorded here without a camera's recorder): "no clip", no video."""
    app = make_app()
    history = app.extensions["edgeface"].history
    history.record(recognition("door", "Ada", time.time()))
    assert history.flush()
    visit = history.query(EventQuery(camera="door")).events[0]
    with served(app) as base:
        page = chromium.new_context(viewport=SIZES["phone"]).new_page()
        page.set_default_timeout(WAIT_MS)
        problems = PageProblems(page, base)
        log_in(page, base, VIEWER, f"/events/{visit.id}")
        page.locator("#clip-none").wait_for()
        assert page.locator("#clip-area video").count() == 0
        problems.expect("GET", f"/api/v1/events/{visit.id}/clips/1.webm", 404)
        missing = page.request.get(f"{base}/api/v1/events/{visit.id}/clips/1.webm")
        assert missing.status == 404 and "no such clip" in missing.json()["error"]
        page.screenshot(path=str(artifact_dir() / "clip-none-phone.png"), full_page=True)
        problems.check()
        page.context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_timeline_lists_the_days_visits_and_filters_them(chromium, site, visit_with_clip, size):
    day = datetime.now().strftime("%Y-%m-%d")
    start = datetime.strptime(day, "%Y-%m-%d").timestamp()
    page, problems = logged_in_page(chromium, site.base, ROLES[size], SIZES[size], WAIT_MS)
    page.goto(f"{site.base}/timeline?camera=stage&day={day}")
    page.locator("#day-visits li").first.wait_for()
    shown = page.eval_on_selector_all("#day-visits li", "els => els.map(e => e.dataset.event)")
    api = site.get(f"/api/v1/events?camera=stage&since={start}&until={start + 86400}&limit=1000").json()["events"]
    # Visits may have started between the page's and our reading: every one the page shows is the day's.
    assert shown and set(shown) <= {ev["id"] for ev in api}
    assert page.locator(".day-bar").count() == len(shown)
    # Clicking a bar puts the cursor on it and shows that visit.
    page.locator(f'.day-bar[data-event="{visit_with_clip["id"]}"]').click()
    page.locator(f'#at-cursor [data-event="{visit_with_clip["id"]}"]').wait_for()
    page.locator("#at-clip").wait_for()
    fits(page)
    page.screenshot(path=str(artifact_dir() / f"timeline-{size}.png"), full_page=True)
    # Filtered: by a name's start, then Unknown only.
    page.goto(f"{site.base}/timeline?camera=stage&day={day}&name=lin")
    page.locator("#day-visits li").first.wait_for()
    names = page.eval_on_selector_all("#day-visits li .name", "els => els.map(e => e.textContent)")
    assert names and set(names) == {"Lin-Manuel Miranda"}
    page.goto(f"{site.base}/timeline?camera=stage&day={day}&name=Unknown")
    page.wait_for_function("document.querySelectorAll('#day-visits li').length > 0 || "
                           "!document.getElementById('day-empty').hidden")
    unknown = site.get(f"/api/v1/events?camera=stage&since={start}&unknown=true&limit=1000").json()["events"]
    classes = page.eval_on_selector_all("#day-visits li", "els => els.map(e => e.className)")
    assert all("unknown" in c for c in classes) and len(classes) <= len(unknown)
    if size == "phone":
        page.screenshot(path=str(artifact_dir() / "timeline-unknown-phone.png"), full_page=True)
    problems.check()
    page.context.close()


def test_a_bad_day_is_said_and_today_shown(chromium, site):
    page, problems = logged_in_page(chromium, site.base, VIEWER, SIZES["desktop"], WAIT_MS)
    page.goto(f"{site.base}/timeline?camera=stage&day=yesterday")
    page.locator("#load-error").wait_for()
    assert "is not a day" in page.locator("#load-error").inner_text()
    assert page.input_value("#t-day") == datetime.now().strftime("%Y-%m-%d")
    problems.check()
    page.context.close()


def test_the_camera_page_and_the_nav_link_the_timeline(chromium, site):
    page, problems = logged_in_page(chromium, site.base, VIEWER, SIZES["phone"], WAIT_MS)
    page.goto(f"{site.base}/cameras/stage")
    link = page.locator("#timeline-link")
    assert link.get_attribute("href") == "/timeline?camera=stage"
    assert page.locator('nav a[href="/timeline"]').count() == 1
    link.click()
    page.wait_for_url(f"{site.base}/timeline?camera=stage")
    page.locator("#day").wait_for()
    problems.check()
    page.context.close()
