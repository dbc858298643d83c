"""The audit trail on a real run: ``edgeface serve`` with the sample clip as its camera, an admin
and a viewer in headless Chromium. The admin finds the page in the nav, sees their login, the feed
they opened and the model in use, filters and verifies the chain, at desktop and phone width; the
viewer has no link and is refused the page. Then ``edgeface audit verify`` passes on the run's
database, and fails naming the row once a row is edited, deleted or swapped in a copy of it."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import pytest
from console_helpers import ADMIN, VIEWER
from helpers import free_port, run_cli
from test_console_browser import WAIT_MS, chromium, open_page, shot  # noqa: F401 - chromium is a fixture
from webapp_helpers import App

from edgeface.history.audit import token_id
from edgeface.history.db import DB_NAME

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def served(sample_model, media_dir, tmp_path_factory):
    logs = tmp_path_factory.mktemp("audit-console")
    env = {"EDGEFACE_API_TOKEN": ADMIN, "EDGEFACE_VIEWER_TOKEN": VIEWER, "EDGEFACE_EVENTS_DIR": str(logs / "events")}
    app = App(free_port(), env, logs / "app.log", "--model", str(sample_model),
              "--camera", str(media_dir / "video" / "short_hamilton_clip.mp4"))
    try:
        app.wait_ready()
        yield SimpleNamespace(app=app, events=logs / "events", logs=logs)
        for secret in (ADMIN, VIEWER):
            assert secret not in app.log(), "a token reached the app's log"
    finally:
        app.stop()


def table_actions(page) -> list[tuple[str, str]]:
    """(action, who) of each row shown, newest first."""
    return page.eval_on_selector_all("#audit-table tbody tr", """rs => rs.map(r => [
        r.querySelector('[data-label=Action]').textContent.trim(),
        r.querySelector('[data-label=Who]').textContent.trim()])""")


def test_admin_sees_the_trail_of_what_they_just_did(chromium, served):  # noqa: F811 - the fixture
    page, problems = open_page(chromium, served, ADMIN)
    page.wait_for_function("""() => [...document.querySelectorAll('figure.tile img')]
                                    .some(i => i.complete && i.naturalWidth > 0)""")    # a live feed is open
    page.click("nav a:text-is('Audit')")
    page.wait_for_url(served.app.base + "/audit")
    assert page.get_attribute("nav a:text-is('Audit')", "aria-current") == "page"
    shown = [tuple(row) for row in table_actions(page)]
    actions = [a for a, _ in shown]
    assert ("login", f"admin {token_id(ADMIN)} session") in shown
    assert "feed.view" in actions and actions.count("model.change") == 1, shown
    assert ADMIN not in page.content()
    shot(page, "audit-admin")

    page.select_option("#a-action", "feed.view")
    page.click("button:text-is('Filter')")
    page.wait_for_url("**/audit?action=feed.view**")
    assert {a for a, _ in table_actions(page)} == {"feed.view"}
    page.click("#verify")
    page.wait_for_selector("#verdict.ok")
    assert page.inner_text("#verdict").startswith("Chain intact")
    shot(page, "audit-admin-verified")

    page.set_viewport_size(PHONE)
    page.goto(served.app.base + "/audit")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than a phone"
    shot(page, "audit-admin-phone")
    problems.check()


def test_a_viewer_has_no_link_and_is_refused_the_page(chromium, served):  # noqa: F811 - the fixture
    page, problems = open_page(chromium, served, VIEWER)
    assert page.locator("nav a:text-is('Audit')").count() == 0, "a viewer is offered the audit page"
    problems.expect("GET", "/audit", 403)
    response = page.goto(served.app.base + "/audit")
    assert response is not None and response.status == 403
    assert "Only an admin" in page.inner_text("main") and page.locator("#audit-table").count() == 0
    shot(page, "audit-viewer")
    page.set_viewport_size(PHONE)
    shot(page, "audit-viewer-phone")
    problems.check()
    refused = served.app.get("/api/v1/audit?action=audit.view&role=viewer").json()["rows"]
    assert [r["status"] for r in refused] == [403], "the viewer's try is not in the trail"


def test_verify_passes_on_the_run_and_names_a_row_tampered_with(served):
    done = run_cli("audit", "verify", "--dir", str(served.events))
    assert "chain intact" in done.stdout
    print(done.stdout)
    tampering = {
        "edited": (["UPDATE audit SET target = 'forged' WHERE seq = 3"], "TAMPERED: row 3 ("),
        "deleted": (["DELETE FROM audit WHERE seq = 2"], "TAMPERED: row 2 missing: deleted"),
        "swapped": (["UPDATE audit SET seq = -1 WHERE seq = 2", "UPDATE audit SET seq = 2 WHERE seq = 3",
                     "UPDATE audit SET seq = 3 WHERE seq = -1"], "written right after row 3"),
    }
    for what, (sql, expected) in tampering.items():
        copy = served.logs / f"tampered-{what}"
        copy.mkdir()
        with sqlite3.connect(served.events / DB_NAME) as source, sqlite3.connect(copy / DB_NAME) as target:
            source.backup(target)          # a consistent copy of the live database
            for statement in sql:
                target.execute(statement)
        broken = run_cli("audit", "verify", "--dir", str(copy), check=False)
        print(broken.stdout)
        assert broken.returncode == 1 and expected in broken.stdout, (what, broken.stdout, broken.stderr)

