"""Accuracy per model version, at the core: each version's evaluation (from its manifest in the
store) beside what the edge sites reported for it (the retained MQTT stats messages of
``edgeface.uplink.stats``), as a table and a plot. ``edgeface review --accuracy`` runs it; the
training notebook may call ``collect_stats``, ``accuracy_table`` and ``accuracy_figure``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from edgeface.errors import ConfigError, EdgefaceError
from edgeface.uplink.stats import RESULTS, SHADOW_RESULTS

STATS_TOPIC = "edgeface/+/model/+/stats"


def collect_stats(url: str, wait_s: float = 5.0) -> dict[str, dict[str, dict[str, Any]]]:
    """``{site: {version: stats message}}`` of every site, from the broker's retained messages.

    The end of the retained messages is the acknowledgement of a second subscription sent right after
    the first: the broker answers a client's packets in order and sends a subscription's retained
    messages with its acknowledgement, so they all precede the second one (QoS 0: no in-flight
    window holds them back). A quiet period instead returned nothing from a busy broker or machine."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError("the MQTT URL is invalid", "use mqtt://[user:password@]host[:1883] or mqtts://…:8883")
    found: dict[str, dict[str, dict[str, Any]]] = {}
    marker: list[int] = []
    done, refused = threading.Event(), threading.Event()

    def on_message(client, userdata, msg) -> None:
        try:
            body = json.loads(msg.payload)
            site, version = str(body["site"]), str(body["model_version"])
        except (ValueError, KeyError, TypeError):
            return          # an empty (cleared) or foreign message
        found.setdefault(site, {})[version] = body

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            refused.set()
        else:
            client.subscribe(STATS_TOPIC, qos=0)
            # Any filter does (a refused one is acknowledged too); nobody publishes here.
            marker.append(client.subscribe(f"edgeface/end-of-retained/{uuid.uuid4().hex}", qos=0)[1])

    def on_subscribe(client, userdata, mid, reason_codes, properties) -> None:
        if mid in marker:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"edgeface-review-{uuid.uuid4().hex[:8]}")
    if parts.username:
        client.username_pw_set(unquote(parts.username), unquote(parts.password) if parts.password else None)
    if parts.scheme == "mqtts":
        client.tls_set()
    client.on_connect, client.on_message, client.on_subscribe = on_connect, on_message, on_subscribe
    where = f"{parts.hostname}:{parts.port or (8883 if parts.scheme == 'mqtts' else 1883)}"   # no credentials
    try:
        client.connect(parts.hostname, parts.port or (8883 if parts.scheme == "mqtts" else 1883), keepalive=10)
    except (OSError, ValueError) as err:
        raise EdgefaceError(f"cannot reach the MQTT broker at {where} ({err.__class__.__name__})",
                            "check --mqtt / EDGEFACE_MQTT_URL and that the core broker is up") from None
    client.loop_start()
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not refused.is_set() and not done.is_set():
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    if refused.is_set():
        raise EdgefaceError(f"the MQTT broker at {where} refused the connection",
                            "check the user and password in --mqtt / EDGEFACE_MQTT_URL")
    if not done.is_set():
        raise EdgefaceError(f"no answer from the MQTT broker at {where} within {wait_s:g} s",
                            "check --mqtt / EDGEFACE_MQTT_URL and that the core broker is up")
    return found


def accuracy_table(manifests: dict[str, dict[str, Any]],
                   stats: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per version (oldest first): its manifest's evaluation and the edge's counts, all sites
    added up. A version the edge reported but the store does not hold is listed too."""
    rows = []
    for version in sorted(set(manifests) | {v for per_site in stats.values() for v in per_site}):
        evaluation = (manifests.get(version) or {}).get("evaluation") or {}
        counts = dict.fromkeys(RESULTS, 0)
        sites = []
        for site, per_version in sorted(stats.items()):
            if version in per_version:
                sites.append(site)
                for result in RESULTS:
                    counts[result] += int(per_version[version].get(result, 0))
        faces = sum(counts.values())
        shadow = {r: sum(int((per_version.get(version, {}).get("shadow") or {}).get(r, 0))
                         for per_version in stats.values()) for r in (*SHADOW_RESULTS, "compared")}
        rows.append({"version": version, "in_store": version in manifests, "evaluation": evaluation,
                     "sites": sites, "faces": faces, **counts,
                     **{f"{r}_rate": (counts[r] / faces if faces else None) for r in RESULTS},
                     "shadow": shadow if shadow["compared"] else None})
    return rows


def shadow_verdict(stats: dict[str, dict[str, dict[str, Any]]], version: str, sites: list[str],
                   min_compared: int) -> list[str]:
    """Why ``version`` may not move on from the canary ``sites`` (empty: it may): a site that has
    not compared it on live faces, compared fewer than ``min_compared``, or named any face
    differently from the version it serves (a changed name is the failure that must block)."""
    problems = []
    for site in sites:
        shadow = (stats.get(site, {}).get(version) or {}).get("shadow")
        if not shadow:
            problems.append(f"site {site} has not evaluated {version} on live faces")
        elif int(shadow.get("changed_name", 0)) > 0:
            problems.append(f"site {site}: {shadow['changed_name']} of {shadow.get('compared', 0)} faces named "
                            f"as someone else than by {shadow.get('against') or 'the version in use'}")
        elif int(shadow.get("compared", 0)) < min_compared:
            problems.append(f"site {site} compared {shadow.get('compared', 0)} faces, fewer than {min_compared}")
    return problems


def accuracy_figure(rows: list[dict[str, Any]]):
    """Two panels over the versions: the evaluation (leave-one-out accuracy, margins) and the share of
    faces the edge named, found Unknown, or found near the threshold. A matplotlib Figure (no pyplot)."""
    from matplotlib.figure import Figure

    if not rows:
        raise EdgefaceError("no model versions to plot", "push a model (edgeface model push) first")
    versions = [r["version"] for r in rows]
    x = range(len(rows))
    fig = Figure(figsize=(max(6.0, 1.2 * len(rows) + 3), 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)

    def series(key: str) -> list[float]:
        return [float("nan") if r["evaluation"].get(key) is None else r["evaluation"][key] for r in rows]

    top.plot(x, series("leave_one_out_accuracy"), "o-", color="tab:blue", label="leave-one-out accuracy")
    top.plot(x, series("same_margin"), "s--", color="tab:green", label="same-person margin")
    top.plot(x, series("different_margin"), "^--", color="tab:red", label="different-person margin")
    top.axhline(0, color="grey", linewidth=0.5)
    top.set_ylabel("evaluation (manifest)")
    top.legend(loc="lower left", fontsize="small")
    colours = {"named": "tab:green", "unknown": "tab:grey", "near_threshold": "tab:orange"}
    base = [0.0] * len(rows)
    for result in RESULTS:
        share = [r[f"{result}_rate"] or 0.0 for r in rows]
        bottom.bar(x, share, bottom=base, color=colours[result], label=result.replace("_", " "))
        base = [b + s for b, s in zip(base, share)]
    for i, r in enumerate(rows):
        bottom.annotate(f"{r['faces']} faces", (i, 1.0), ha="center", va="bottom", fontsize="small")
    bottom.set_ylim(0, 1.15)
    bottom.set_ylabel("share of faces at the edge")
    bottom.legend(loc="upper left", fontsize="small", ncol=3)
    bottom.set_xticks(list(x), versions, rotation=20, fontsize="small")
    bottom.set_xlabel("model version")
    return fig


def cmd_accuracy(out: Path, args) -> int:
    from edgeface.evaluation import figure_png
    from edgeface.store import open_store
    from edgeface.uplink.shadowplot import shadow_figure, shadow_rows

    store = open_store(args.store, args.settings, origin="--store" if args.store else None)
    manifests = {v: store.manifest(v) for v in store.versions()}
    url = args.mqtt or args.settings.uplink.url
    stats = collect_stats(url) if url else {}
    rows = accuracy_table(manifests, stats)
    out.mkdir(parents=True, exist_ok=True)
    (out / "accuracy.json").write_text(json.dumps(rows, indent=1))
    (out / "accuracy.png").write_bytes(figure_png(accuracy_figure(rows)))
    if shadow_rows(rows):       # the candidates the sites compared on live faces
        (out / "shadow.png").write_bytes(figure_png(shadow_figure(rows)))
    print(f"{len(rows)} model versions ({store.where}; edge stats from {len(stats)} sites): {out / 'accuracy.png'}")
    for r in rows:
        acc = r["evaluation"].get("leave_one_out_accuracy")
        rates = ", ".join(f"{res.replace('_', ' ')} {r[f'{res}_rate']:.0%}" for res in RESULTS) if r["faces"] else ""
        shadow = r["shadow"]
        compared = (f"; as a candidate: {shadow['compared']} faces compared, {shadow['changed_name']} changed name, "
                    f"{shadow['newly_named']} newly named, {shadow['newly_unknown']} newly unknown") if shadow else ""
        print(f"  {r['version']}: leave-one-out {'n/a' if acc is None else f'{acc:.1%}'}; "
              f"{r['faces']} faces at the edge" + (f" ({rates})" if rates else "") + compared)
    return 0
