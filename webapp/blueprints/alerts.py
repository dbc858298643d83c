"""The alert watchlist under ``/api/v1`` (``edgeface.live.alerts``):

- ``GET /alerts``: the rules (and why the saved list is not used, if it is not);
- ``POST /alerts`` ``{"who": NAME or "Unknown", "cameras": [ids], "hours": [from, to]}`` (admin);
- ``DELETE /alerts/<id>`` (admin).

Alerts themselves go out on ``/live/marks`` (``event: alert``) and to MQTT ``edgeface/<site>/alerts``.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from edgeface.live.interface import AlertRuleError
from webapp.auth import require_admin
from webapp.blueprints.common import service
from webapp.errors import error_response

bp = Blueprint("alerts", __name__, url_prefix="/api/v1")


@bp.get("/alerts")
def list_alerts():
    rules, error = service().alert_rules()
    return jsonify(rules=[r.as_json() for r in rules], error=error)


@bp.post("/alerts")
@require_admin
def add_alert():
    try:
        rule = service().add_alert_rule(request.get_json(silent=True))
    except AlertRuleError as err:
        return error_response(400, err.message, err.hint or "")
    return jsonify(rule.as_json()), 201


@bp.delete("/alerts/<rule_id>")
@require_admin
def remove_alert(rule_id: str):
    if not service().remove_alert_rule(rule_id):
        return error_response(404, "no such alert rule", "the alert watchlist lists the rules")
    return jsonify(removed=rule_id)
