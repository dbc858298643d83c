"""``edgeface review``: the faces the edge sent back, grouped, for a data scientist to name.

1. ``edgeface review --out DIR`` pulls the captures from ``s3://BUCKET/captures/`` (only the new
   ones: crops and sidecars, not the context frames), clusters their embeddings with dlib's
   Chinese-whispers and writes ``DIR/index.html`` (a grid of faces per cluster, with any operator
   labels), one ``cluster-<n>.png`` grid each and ``DIR/clusters.json``.
2. ``edgeface review --out DIR --accept N --name "Jane Doe"`` checks each of cluster N's crops
   with the training detector and copies those training can use into ``face-images/Jane Doe/``
   (``--images``), each with the box the edge found its face with inside the JPEG
   (``edgeface.facebox``: training falls back on it when its detector misses the face in the
   crop); the others are listed with the reason training would skip them. ``--reject N`` sets a
   cluster aside. Both are recorded in ``DIR/decisions.json``. Then train → evaluate → push.
3. ``edgeface review --out DIR --accuracy`` compares the model versions: each version's
   evaluation from its manifest in the store (``--store``) and what the edge sites reported for it
   over MQTT (``--mqtt``, the core broker: the retained ``edgeface/<site>/model/<version>/stats``),
   plotted into ``DIR/accuracy.png`` with the figures in ``DIR/accuracy.json``.
"""

from __future__ import annotations

import html
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from edgeface.errors import ConfigError, EdgefaceError
from edgeface.settings import S3Settings
from edgeface.uplink.outbox import PREFIX

THUMB = 96                 # grid cell, pixels
GRID_COLUMNS = 10
# Same-person distance for clustering, stricter than the 0.6 match tolerance. In the sample media
# one person's photos lie up to 0.53 apart and different people 0.70 or more (0.5 split one person).
DEFAULT_THRESHOLD = 0.55


def register(sub) -> None:
    p = sub.add_parser("review", help="cluster the faces the edge sites sent back, name a cluster",
                       description=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    p.add_argument("--out", required=True, help="review folder (captures, clusters, index.html)")
    p.add_argument("--site", help="only this site's captures (default: all)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help=f"same-person embedding distance for clustering (default {DEFAULT_THRESHOLD})")
    p.add_argument("--no-pull", action="store_true", help="cluster what is in --out already, do not read S3")
    p.add_argument("--accept", type=int, metavar="N", help="copy cluster N's faces into --images/NAME/")
    p.add_argument("--name", help="the person's name, with --accept")
    p.add_argument("--reject", type=int, metavar="N", help="set cluster N aside (not a person to train)")
    p.add_argument("--images", default="face-images", help="training images folder (default face-images)")
    p.add_argument("--accuracy", action="store_true",
                   help="plot each model version's evaluation and the edge's counts into DIR/accuracy.png")
    p.add_argument("--store", help="with --accuracy: the model store (default EDGEFACE_STORE / AWS_S3_BUCKET)")
    p.add_argument("--mqtt", help="with --accuracy: the core broker, mqtt://[user:password@]host[:port] "
                   "(default EDGEFACE_MQTT_URL; none: manifests only)")
    p.set_defaults(handler=cmd_review)


def cmd_review(args) -> int:
    out = Path(args.out)
    if args.accept is not None and args.reject is not None:
        raise EdgefaceError("--accept and --reject together", "decide one cluster at a time")
    if args.accept is not None or args.reject is not None:
        return _decide(out, args)
    if args.accuracy:
        from edgeface.uplink.accuracy import cmd_accuracy

        return cmd_accuracy(out, args)
    sidecars, clusters = review(out, None if args.no_pull else args.settings.s3, args.site, args.threshold)
    print(f"{len(sidecars)} faces in {len(clusters)} clusters: {out / 'index.html'}")
    for n, ids in clusters.items():
        labels = sorted({sidecars[i]["label"] for i in ids if sidecars[i].get("label")})
        print(f"  cluster {n}: {len(ids)} faces" + (f", labelled {', '.join(labels)}" if labels else ""))
    return 0


def review(out: Path, s3: S3Settings | None, site: str | None = None, threshold: float = DEFAULT_THRESHOLD,
           ) -> tuple[dict[str, dict[str, Any]], dict[int, list[str]]]:
    """Pull the new captures (unless ``s3`` is None), cluster every capture in ``out`` and write the
    report: the sidecars by capture id and the clusters (the command and the notebook both call it)."""
    captures = out / "captures"
    captures.mkdir(parents=True, exist_ok=True)
    if s3 is not None:
        pulled = pull(captures, s3, site)
        print(f"pulled {pulled} new captures into {captures}")
    sidecars = _load_sidecars(captures)
    clusters = cluster(sidecars, threshold)
    (out / "clusters.json").write_text(json.dumps({str(n): ids for n, ids in clusters.items()}, indent=1))
    write_report(out, clusters, sidecars)
    return sidecars, clusters


def pull(folder: Path, s3: S3Settings, site: str | None) -> int:
    """Download each capture's crop and sidecar not yet in ``folder``; returns how many."""
    from edgeface.s3config import s3_client

    if not s3.bucket:
        raise ConfigError("AWS_S3_BUCKET is not set", "set the core's data-connection variables (AWS_S3_*)")
    client = s3_client(s3)
    prefix = f"{PREFIX}/{site}/" if site else f"{PREFIX}/"
    count = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if not key.endswith(".json"):
                continue        # the sidecar marks a complete capture; its crop is fetched with it
            capture_id = key.rsplit("/", 1)[1][: -len(".json")]
            if (folder / f"{capture_id}.json").exists():
                continue
            crop = client.get_object(Bucket=s3.bucket, Key=key[: -len(".json")] + ".jpg")["Body"].read()
            (folder / f"{capture_id}.jpg").write_bytes(crop)
            sidecar = client.get_object(Bucket=s3.bucket, Key=key)["Body"].read()
            (folder / f"{capture_id}.json").write_bytes(sidecar)     # last: its presence means complete
            count += 1
    return count


def _load_sidecars(folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        if data.get("embedding") and (folder / f"{path.stem}.jpg").exists():
            out[path.stem] = data
    return out


def cluster(sidecars: dict[str, dict[str, Any]], threshold: float) -> dict[int, list[str]]:
    """Clusters numbered 1… from the largest; each a list of capture ids (oldest first)."""
    import dlib

    ids = list(sidecars)
    if not ids:
        return {}
    vectors = [dlib.vector([float(v) for v in sidecars[i]["embedding"]]) for i in ids]
    labels = dlib.chinese_whispers_clustering(vectors, threshold)
    groups: dict[int, list[str]] = {}
    for capture_id, label in zip(ids, labels):
        groups.setdefault(label, []).append(capture_id)
    ordered = sorted(groups.values(), key=lambda g: (-len(g), g[0]))
    return {n: sorted(g, key=lambda i: sidecars[i]["seen_at"]) for n, g in enumerate(ordered, start=1)}


def write_report(out: Path, clusters: dict[int, list[str]], sidecars: dict[str, dict[str, Any]]) -> None:
    import cv2
    import numpy as np

    sections = []
    for n, ids in clusters.items():
        cells = []
        for i in ids:
            sc = sidecars[i]
            tip = (f"{sc.get('site')} / {sc.get('camera')} — {sc.get('seen_at_iso')} — {sc.get('name')} "
                   f"d={sc.get('distance')} model {sc.get('model_version')}")
            label = f"<figcaption>{html.escape(sc['label'])}</figcaption>" if sc.get("label") else ""
            cells.append(f'<figure title="{html.escape(tip)}"><img src="captures/{html.escape(i)}.jpg" '
                         f'width="{THUMB}" height="{THUMB}" alt="">{label}</figure>')
        cameras = sorted({f"{sidecars[i].get('site')}/{sidecars[i].get('camera')}" for i in ids})
        sections.append(f'<section id="cluster-{n}"><h2>Cluster {n}: {len(ids)} faces</h2>'
                        f"<p>{html.escape(', '.join(cameras))}; name it with "
                        f"<code>edgeface review --out {html.escape(str(out))} --accept {n} --name &quot;…&quot;"
                        f"</code></p>{''.join(cells)}</section>")
        tiles = []
        for i in ids:
            img = cv2.imread(str(out / "captures" / f"{i}.jpg"))
            tiles.append(cv2.resize(img, (THUMB, THUMB)) if img is not None else np.zeros((THUMB, THUMB, 3), np.uint8))
        width = min(len(tiles), GRID_COLUMNS)
        tiles += [np.zeros((THUMB, THUMB, 3), np.uint8)] * (-len(tiles) % width)     # fill the last row
        rows = [np.hstack(tiles[r:r + width]) for r in range(0, len(tiles), width)]
        cv2.imwrite(str(out / f"cluster-{n}.png"), np.vstack(rows))
    style = "figure{display:inline-block;margin:2px;text-align:center}figcaption{font-size:small}"
    (out / "index.html").write_text(
        f"<!doctype html><meta charset=utf-8><title>edgeface review</title><style>{style}</style>"
        f"<h1>{sum(map(len, clusters.values()))} faces, {len(clusters)} clusters</h1>{''.join(sections)}\n",
        encoding="utf-8")


def _decide(out: Path, args) -> int:
    path = out / "clusters.json"
    if not path.exists():
        raise EdgefaceError(f"no review in {out}", f"run edgeface review --out {out} first")
    clusters: dict[str, list[str]] = json.loads(path.read_text())
    n = args.accept if args.accept is not None else args.reject
    if str(n) not in clusters:
        raise EdgefaceError(f"there is no cluster {n} in {out}", f"choose one of 1 … {len(clusters)} (index.html)")
    decisions_path = out / "decisions.json"
    decisions = json.loads(decisions_path.read_text()) if decisions_path.exists() else {}
    if args.reject is not None:
        decisions[str(n)] = {"decision": "rejected", "faces": clusters[str(n)]}
        print(f"cluster {n} set aside ({len(clusters[str(n)])} faces)")
    else:
        name = (args.name or "").strip()
        if not name or name == "Unknown" or any(ch in name for ch in "/\\\0") or name.startswith("."):
            raise EdgefaceError(f"--name {args.name!r} cannot be a person's folder",
                                'give the person\'s name, e.g. --name "Jane Doe"')
        decisions[str(n)] = _accept(out, clusters[str(n)], n, name, Path(args.images), args.settings)
    decisions_path.write_text(json.dumps(decisions, indent=1))
    return 0


def _accept(out: Path, ids: list[str], n: int, name: str, images: Path, settings: Any) -> dict[str, Any]:
    """Copy the faces of a cluster that training can use into ``images/name/``, stamped with their
    stored face box; say which it would skip, and why, before copying anything."""
    from edgeface import facebox
    from edgeface import images as image_limits
    from edgeface.training import check_image

    image_limits.configure(settings.images.max_pixels)
    ready: dict[str, bytes] = {}
    refused: dict[str, str] = {}
    from_box: list[str] = []
    for capture_id in ids:
        reason: str | None
        try:
            raw = (out / "captures" / f"{capture_id}.jpg").read_bytes()
            sidecar = json.loads((out / "captures" / f"{capture_id}.json").read_text())
            if sidecar.get("face_box"):
                raw = facebox.stamp(raw, sidecar["face_box"], sidecar.get("landmarks"), capture_id)
        except (OSError, ValueError, TypeError) as err:   # a review folder edited by hand
            reason, stored = f"cannot read its files in {out / 'captures'} ({err.__class__.__name__})", False
        else:
            reason, stored = check_image(raw, f"capture {capture_id}")
        if reason is not None:
            refused[capture_id] = reason
            print(f"  capture {capture_id}: training would skip it ({reason}); not copied", file=sys.stderr)
            continue
        ready[capture_id] = raw
        if stored:
            from_box.append(capture_id)
    if not ready:
        raise EdgefaceError(f"none of the {len(ids)} faces of cluster {n} can be trained (see above)",
                            "reject the cluster, or add photos of the person to the images folder by hand")
    target = images / name
    target.mkdir(parents=True, exist_ok=True)
    for capture_id, raw in ready.items():
        (target / f"capture-{capture_id}.jpg").write_bytes(raw)
    note = (f" ({len(from_box)} from the face box the edge stored: the detector misses them in the crop)"
            if from_box else "")
    print(f"cluster {n}: {len(ready)} of {len(ids)} faces copied into {target}{note}; "
          f"now train (edgeface train --images {images} --out model.data --expect {shlex.quote(name)}), "
          "evaluate and push")
    return {"decision": "accepted", "name": name, "faces": list(ready), "not_copied": refused,
            "from_stored_box": from_box}
