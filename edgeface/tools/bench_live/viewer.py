"""A viewer of one camera's feed (``/video_feed/<camera>``), as a browser tab would watch it.

For every frame received it notes when and which source frame it shows (the camera's
``edgeface-frame:`` comment, kept by the app). What was on it comes, as the overlay is drawn:

- ``browser`` (what the console does): the camera's own frames, and the faces from the page's one
  event stream (``MarksViewer`` on ``/live/marks``), matched to the frames by the camera's number;
- ``drawn``: ``?boxes=drawn``, the faces drawn in by the app and listed in its ``edgeface:`` comment.

Nothing is decoded: the bytes are only split into JPEGs and their headers read.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass, replace

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


class _Streaming(Service):
    """One long GET in a thread until ``close()``, which cuts its blocked read short."""

    def __init__(self, name: str, port: int, token: str, path: str):
        super().__init__(name)
        self.port, self.token, self.path = port, token, path
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
            self._conn.request("GET", self.path, headers={"Authorization": f"Bearer {self.token}"})
            response = self._conn.getresponse()
            if response.status != 200:
                self.error = f"{self.path}: HTTP {response.status}"
                return
            self.read(response)
        except (OSError, http.client.HTTPException, ValueError) as err:
            if not self.stopping:
                self.error = f"{self.path}: {err.__class__.__name__}: {err}"
        finally:
            if self._conn is not None:
                self._conn.close()

    def read(self, response: http.client.HTTPResponse) -> None:
        raise NotImplementedError


class FeedViewer(_Streaming):
    """Watches ``/video_feed/<camera>`` (``drawn``: with the faces drawn in) until ``close()``."""

    def __init__(self, port: int, camera_id: str, token: str, drawn: bool = True):
        super().__init__(f"viewer-{camera_id}", port, token,
                         f"/video_feed/{camera_id}" + ("?boxes=drawn" if drawn else ""))
        self.camera_id = camera_id
        self.frames: list[Received] = []

    def read(self, response: http.client.HTTPResponse) -> None:
        parser = JpegStreamParser()
        while not self.stopping:
            data = response.read1(READ_CHUNK)
            if not data:
                break
            now = time.monotonic()
            self.frames.extend(read_frame(jpeg, now) for jpeg in parser.feed(data))


class MarksViewer(_Streaming):
    """Reads the page's one event stream (``/live/marks``), every camera's faces, until ``close()``:
    ``marks[(camera, camera's frame number)]`` = (named, faces, arrived) — ``arrived`` turned back
    into this host's ``time.monotonic()`` (the message's ``at`` is epoch seconds)."""

    def __init__(self, port: int, token: str):
        super().__init__("viewer-marks", port, token, "/live/marks")
        self.marks: dict[tuple[str, int], tuple[frozenset[str], int, float]] = {}
        self.messages = 0

    def read(self, response: http.client.HTTPResponse) -> None:
        kind, data = "", ""
        while not self.stopping:
            line = response.readline()
            if not line:
                break
            text = line.decode().rstrip("\r\n")
            if text.startswith("event:"):
                kind = text[6:].strip()
            elif text.startswith("data:"):
                data = text[5:].strip()
            elif not text:
                if kind == "faces" and data:
                    self._faces(json.loads(data))
                kind, data = "", ""

    def _faces(self, message: dict) -> None:
        self.messages += 1
        if message.get("camera_frame") is None:
            return
        faces = message.get("faces", [])
        arrived = message["at"] - (time.time() - time.monotonic())
        self.marks[(message["camera"], message["camera_frame"])] = (
            frozenset(f["name"] for f in faces if f.get("state") == "named"), len(faces), arrived)

    def onto(self, camera_id: str, frames: list[Received]) -> list[Received]:
        """``frames`` of ``camera_id`` with the faces the stream said were on them (none: nothing drawn)."""
        out = []
        for f in frames:
            got = self.marks.get((camera_id, f.counter)) if f.counter is not None else None
            out.append(replace(f, names=got[0], faces=got[1], arrived=got[2]) if got else f)
        return out
