"""The audit trail for admins: a page (``/audit``, rendered here, filters in the URL) and its JSON
(``/api/v1/audit``, ``/api/v1/audit/verify``). Viewers watch and search; who did so is for admins."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from edgeface.history.audit import AuditQuery, AuditTrail, Row
from webapp.auth import current_role, require_admin
from webapp.blueprints.ui import _page
from webapp.errors import error_response

bp = Blueprint("audit", __name__)

FILTERS = ("action", "role", "token_id", "address", "target", "since", "until")
MAX_PER_PAGE = 500
HINT = ("filters: action (exact, or a prefix ending in '.', e.g. camera.), role, token_id, address, target, "
        "since, until (ISO 8601, UTC unless an offset is given), before (a row number), limit")


def _trail() -> AuditTrail:
    return current_app.extensions["edgeface.audit"].trail


def _when(text: str, name: str) -> int:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{name}' {text[:40]!r} is not a time such as 2026-12-07T08:30") from None
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp() * 1000)


def _whole(text: str, name: str, low: int, high: int) -> int:
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ValueError(f"'{name}' must be a whole number from {low} to {high}")
    return int(text)


def parse_query(args: MultiDict) -> AuditQuery:
    """The filters of the page and the API; ValueError says what is wrong."""
    unknown = sorted(set(args) - {*FILTERS, "before", "limit", "verify"})
    if unknown:
        raise ValueError(f"unknown parameter(s): {', '.join(a[:40] for a in unknown)}")
    text = {k: args.get(k, "").strip() or None for k in (*FILTERS, "before", "limit")}
    since = _when(text["since"], "since") if text["since"] else None
    until = _when(text["until"], "until") if text["until"] else None
    if since is not None and until is not None and since > until:
        raise ValueError("'since' is after 'until'")
    return AuditQuery(action=text["action"], role=text["role"], token_id=text["token_id"], address=text["address"],
                      target=text["target"], since_ms=since, until_ms=until,
                      before_seq=_whole(text["before"], "before", 1, 2**62) if text["before"] else None,
                      limit=_whole(text["limit"], "limit", 1, MAX_PER_PAGE) if text["limit"] else 100)


@bp.after_request
def _log_in_first(response):
    """A page asked for without logging in goes to the login form, as the other pages do."""
    if response.status_code == 401 and request.endpoint == "audit.page" and request.method == "GET":
        return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))
    return response


@bp.get("/audit")
def page():
    if current_role() != "admin":
        return _page("audit.html", nav="audit", refused=True), 403
    error, before, verdict = None, None, None
    rows: list[Row] = []
    try:
        query = parse_query(request.args)
        rows, before = _trail().query(query)
    except ValueError as err:
        error = str(err)
    if request.args.get("verify"):
        verdict = _trail().verify()
    shown = {k: request.args.get(k, "") for k in FILTERS}
    return _page("audit.html", nav="audit", refused=False, rows=rows, before=before, error=error, verdict=verdict,
                 filters=shown, filters_in_use={k: v for k, v in shown.items() if v}, actions=_trail().actions(),
                 hint=HINT), (400 if error else 200)


@bp.get("/api/v1/audit")
@require_admin
def list_audit():
    try:
        query = parse_query(request.args)
    except ValueError as err:
        return error_response(400, str(err), HINT)
    rows, before = _trail().query(query)
    return jsonify(rows=[r.as_json() for r in rows], next_before=before)


@bp.get("/api/v1/audit/verify")
@require_admin
def verify():
    return jsonify(_trail().verify().as_json())
