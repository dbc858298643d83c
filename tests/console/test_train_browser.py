"""The train tab (issue 20 item 5) in real headless Chromium against the real app (LiveService, SQLite
history, the site's training folder): the face library in one place — each person's enrolment photos
(the images), their recent best faces with distances and "Add to X" / "Not X", the repeat strangers with
"This is …", which model version knows each person and what is local, and what the next training would
gain with the commands to run. The admin acts; a viewer sees it all without a control; desktop and 390 px."""

from __future__ import annotations

import time

import pytest
from console_helpers import ADMIN, SIZES, VIEWER, PageProblems, artifact_dir, log_in, recognition, served
from webapp_helpers import wait_until

from edgeface.matcher import UNKNOWN
from edgeface.settings import EventSettings, HttpSettings, ModelSettings, Settings, TrainingSettings
from webapp import create_app

pytestmark = pytest.mark.slow

LIN = "Lin-Manuel Miranda"
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def site(sample_model, media_dir, tmp_path_factory):
    """The app with the training folder the sample model was made from, Lin seen twice, a stranger twice."""
    settings = Settings(http=HttpSettings(api_token=ADMIN, viewer_token=VIEWER),
                        model=ModelSettings(file=str(sample_model)),
                        events=EventSettings(dir=str(tmp_path_factory.mktemp("train") / "events")),
                        training=TrainingSettings(images=media_dir / "faces"))
    app = create_app(settings)
    service = app.extensions["edgeface"]
    try:
        assert service.watcher.wait_loaded(30)
        now = time.time()
        for track, (camera, name, ago, distance, face) in enumerate([
                ("lobby", LIN, 3600, 0.35, 0.01), ("hall", LIN, 2000, 0.52, 0.02),
                ("yard", UNKNOWN, 1000, 0.8, 0.3), ("door", UNKNOWN, 500, 0.8, 0.3)], start=100):
            service.history.record(recognition(camera, name, now - ago, track, distance=distance, embedding=face))
        assert service.history.flush()
        wait_until(lambda: any(g.visits == 2 for g in service.strangers(10)), 30, "the stranger's two visits grouped")
        with served(app) as base:
            yield type("Site", (), {"base": base, "service": service})
    finally:
        service.close()


def open_train(chromium, site, token: str, size: str):
    page = chromium.new_context(viewport=SIZES[size]).new_page()
    page.set_default_timeout(WAIT_MS)
    problems = PageProblems(page, site.base)
    log_in(page, site.base, token, "/train")
    page.wait_for_selector(f"#library li.person-card[data-name='{LIN}']")
    assert page.locator("nav a[href='/train'][aria-current=page]").count() == 1
    return page, problems


def open_person(page, name: str):
    card = f"#library li.person-card[data-name='{name}']"
    page.click(f"{card} summary")
    page.wait_for_selector(f"{card} .photos li.photo img")
    page.wait_for_selector(f"{card} .shots li.event")
    # The pictures themselves, from the site's training folder: decoded, not broken links (lazy: in view).
    photos = f"{card} .photos li.photo img"
    page.locator(photos).first.scroll_into_view_if_needed()
    page.wait_for_function("sel => [...document.querySelectorAll(sel)].every(i => i.complete && i.naturalWidth > 0)",
                           arg=photos)
    return card


def fits(page, name: str) -> None:
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name}: wider than the screen"
    assert "/api/" not in page.evaluate("document.body.innerText"), f"{name}: an API path shown"
    page.screenshot(path=str(artifact_dir() / f"{name}.png"), full_page=True)


def test_the_admin_improves_the_library_from_the_train_tab(chromium, site):
    page, problems = open_train(chromium, site, ADMIN, "desktop")
    page.wait_for_selector("#next-summary:text-matches('Nothing waits')")
    assert "edgeface train --images" in page.inner_text("#next-training")
    known = page.inner_text(f"#library li.person-card[data-name='{LIN}'] .known")
    assert known == f"model {site.service.model_status().version}", known
    page.wait_for_selector("#stranger-list li.group form.label-form")     # "This is … / Name all"
    card = open_person(page, LIN)
    shots = page.locator(f"{card} .shots li.event")
    assert shots.count() == 2 and "face distance 0.35" in shots.nth(1).inner_text()
    fits(page, "train-admin-desktop")

    shots.nth(1).locator(f"button:text('Add to {LIN}')").click()
    page.wait_for_selector(f"{card} .shots li.event >> text=said: this is {LIN}")
    shots.nth(0).locator(f"button:text('Not {LIN}')").click()
    page.wait_for_selector(f"{card} .shots li.event >> text=said: not {LIN}")
    assert site.service.model_status().local == {"is": 1, "not": 1, "drop": 0}

    # What the next training gains, per person; the face the site added names Lin with its help: local.
    page.reload()
    page.wait_for_selector("#next-summary:text-matches('1 labelled face to learn')")
    row = page.inner_text(f"#next-rows tr[data-name='{LIN}']")
    assert "1" in row and "0" in row, row
    assert "1 local example" in page.inner_text(f"#library li.person-card[data-name='{LIN}'] .known")
    page.wait_for_selector(f"#correction-rows th:text('this is {LIN}')")
    page.wait_for_selector(f"#correction-rows th:text('not {LIN}')")
    card = open_person(page, LIN)
    page.wait_for_selector(f"{card} .shots li.event .tag.local")
    fits(page, "train-admin-corrected-desktop")
    phone, phone_problems = open_train(chromium, site, ADMIN, "phone")
    open_person(phone, LIN)
    fits(phone, "train-admin-phone")

    for c in site.service.corrections():     # undone: the summary is back to nothing waiting
        row = f"#correction-rows tr[data-correction='{c['id']}']"
        page.click(f"{row} button")
        page.wait_for_selector(row, state="detached")
    page.reload()
    page.wait_for_selector("#next-summary:text-matches('Nothing waits')")
    problems.check()
    phone_problems.check()


@pytest.mark.parametrize("size", SIZES)
def test_a_viewer_sees_the_library_without_a_control(chromium, site, size):
    page, problems = open_train(chromium, site, VIEWER, size)
    page.wait_for_selector("#stranger-list li.group")
    open_person(page, LIN)
    assert page.locator("#library button, #stranger-list form, #correction-rows button").count() == 0
    fits(page, f"train-viewer-{size}")
    problems.check()
