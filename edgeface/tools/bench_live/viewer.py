"""A viewer of one annotated feed (``/video_feed/<camera>``), as a browser tab would watch it.

For every frame received it notes when, which source frame it shows (the camera's
``edgeface-frame:`` comment, forwarded by the app) and what the app drew (its ``edgeface:``
comment). Nothing is decoded: the bytes are only split into JPEGs and their headers read.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass

from edgeface.cameras.mjpeg import READ_CHUNK, JpegStreamParser
from edgeface.jpegmeta import ANNOTATION, FRAME_STAMP, comment_with_prefix
from edgeface.lifecycle import Service


@dataclass(frozen=True)
class Received:
    at: float                   # time.monotonic() when it arrived here
    counter: int | None         # the camera's frame number (None: no stamp)
    arrived: float | None       # time.monotonic() when the app received that frame from the camera
    names: frozenset[str]       # enrolled names drawn on it
    faces: int                  # boxes drawn on it (named, Unknown or pending)


def read_frame(jpeg: bytes, at: float) -> Received:
    stamp = comment_with_prefix(jpeg, FRAME_STAMP)
    raw = comment_with_prefix(jpeg, ANNOTATION)
    meta = json.loads(raw) if raw else {}
    faces = meta.get("faces", [])
    return Received(at, int(stamp) if stamp else None, meta.get("arrived"),
                    frozenset(f["name"] for f in faces if f.get("state") == "named"), len(faces))


class FeedViewer(Service):
    """Watches ``http://HOST:PORT/video_feed/<camera>`` in a thread until ``close()``."""

    def __init__(self, port: int, camera_id: str, token: str):
        super().__init__(f"viewer-{camera_id}")
        self.port, self.camera_id, self.token = port, camera_id, token
        self.frames: list[Received] = []
        self.error: str | None = None
        self._conn: http.client.HTTPConnection | None = None

    def _wake(self) -> None:
        if self._conn is not None and self._conn.sock is not None:
            try:
                self._conn.sock.shutdown(2)     # the blocked read returns now
            except OSError:
                pass

    def run(self) -> None:
        try:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            self._conn.request("GET", f"/video_feed/{self.camera_id}",
                               headers={"Authorization": f"Bearer {self.token}"})
            response = self._conn.getresponse()
            if response.status != 200:
                self.error = f"/video_feed/{self.camera_id}: HTTP {response.status}"
                return
            parser = JpegStreamParser()
            while not self.stopping:
                data = response.read1(READ_CHUNK)
                if not data:
                    break
                now = time.monotonic()
                self.frames.extend(read_frame(jpeg, now) for jpeg in parser.feed(data))
        except (OSError, http.client.HTTPException, ValueError) as err:
            if not self.stopping:
                self.error = f"/video_feed/{self.camera_id}: {err.__class__.__name__}: {err}"
        finally:
            if self._conn is not None:
                self._conn.close()
