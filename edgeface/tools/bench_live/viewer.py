"""A viewer of one camera's feed (``/video_feed/<camera>``), as a browser tab would watch it.

For every frame received it notes when and which source frame it shows: the camera's
``edgeface-frame:`` comment, kept by the app (MJPEG cameras), or the number drawn into the pixels
(``barcode``; RTSP cameras send H.264, which has no comment). What was on it comes, as the overlay
is drawn:

- ``browser`` (what the console does): the camera's own frames, and the faces from the page's one
  event stream (``MarksViewer`` on ``/live/marks``), matched to the frames by the camera's number —
  or, for RTSP cameras, whose marks carry the app's frame ``seq`` only, by ``seq`` plus the one
  offset between the two counts (``seq_offset``);
- ``drawn``: ``?boxes=drawn``, the faces drawn in by the app and listed in its ``edgeface:`` comment.

MJPEG frames are not decoded (the bytes are split into JPEGs and their headers read); an RTSP
camera's are, at a quarter of their size and grey, for the barcode.
"""

from __future__ import annotations

import bisect
import http.client
import json
import time
from collections import Counter
from dataclasses import dataclass, replace

from edgeface.cameras.mjpeg import READ_CHUNK, JpegStreamParser
from edgeface.jpegmeta import ANNOTATION, FRAME_STAMP, comment_with_prefix
from edgeface.lifecycle import Service
from edgeface.tools.bench_live import barcode


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


class Unwrap:
    """A barcode's number (the frame in the clip, again from 0 at each loop) made into frames since
    the camera started, as the MJPEG cameras' stamp counts: a number far below the last is a loop."""

    def __init__(self, period: int):
        self.period, self.loops = period, 0
        self.last: int | None = None

    def __call__(self, k: int | None) -> int | None:
        if k is None:
            return None
        if self.last is not None and k < self.last - self.period // 2:
            self.loops += 1
        self.last = k
        return self.loops * self.period + k


class FeedViewer(_Streaming):
    """Watches ``/video_feed/<camera>`` (``drawn``: with the faces drawn in) until ``close()``.
    ``period``: the frames carry their number in the clip as a barcode, the clip that long."""

    def __init__(self, port: int, camera_id: str, token: str, drawn: bool = True, period: int | None = None):
        super().__init__(f"viewer-{camera_id}", port, token,
                         f"/video_feed/{camera_id}" + ("?boxes=drawn" if drawn else ""))
        self.camera_id = camera_id
        self.frames: list[Received] = []
        self._unwrap = Unwrap(period) if period else None
        self.unreadable = 0          # frames whose barcode did not read (not scored)

    def read(self, response: http.client.HTTPResponse) -> None:
        parser = JpegStreamParser()
        while not self.stopping:
            data = response.read1(READ_CHUNK)
            if not data:
                break
            now = time.monotonic()
            for jpeg in parser.feed(data):
                frame = read_frame(jpeg, now)
                if self._unwrap is not None:
                    frame = replace(frame, counter=self._unwrap(barcode.read(jpeg)))
                    self.unreadable += frame.counter is None
                self.frames.append(frame)


class MarksViewer(_Streaming):
    """Reads the page's one event stream (``/live/marks``), every camera's faces, until ``close()``:
    ``marks[(camera, camera's frame number)]`` = (named, faces, arrived) — ``arrived`` turned back
    into this host's ``time.monotonic()`` (the message's ``at`` is epoch seconds)."""

    def __init__(self, port: int, token: str):
        super().__init__("viewer-marks", port, token, "/live/marks")
        self.marks: dict[tuple[str, int], tuple[frozenset[str], int, float]] = {}
        # (camera, the app's frame seq): the same, and when it came here; for cameras without a stamp
        self.by_seq: dict[tuple[str, int], tuple[frozenset[str], int, float, float]] = {}
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
        faces = message.get("faces", [])
        arrived = message["at"] - (time.time() - time.monotonic())
        mark = (frozenset(f["name"] for f in faces if f.get("state") == "named"), len(faces), arrived)
        if message.get("camera_frame") is not None:
            self.marks[(message["camera"], message["camera_frame"])] = mark
        else:
            self.by_seq[(message["camera"], message["seq"])] = (*mark, time.monotonic())

    def onto(self, camera_id: str, frames: list[Received]) -> list[Received]:
        """``frames`` of ``camera_id`` with the faces the stream said were on them (none: nothing drawn)."""
        offset = self.seq_offset(camera_id, frames)[0]
        out = []
        for f in frames:
            got = None
            if f.counter is not None:
                got = self.marks.get((camera_id, f.counter)) or (
                    self.by_seq.get((camera_id, f.counter - offset)) if offset is not None else None)
            out.append(replace(f, names=got[0], faces=got[1], arrived=got[2]) if got else f)
        return out

    def seq_offset(self, camera_id: str, frames: list[Received]) -> tuple[int | None, float | None]:
        """(camera's frame number - the app's ``seq``, share of marks that agree) for a camera whose
        marks carry only ``seq``. The app sends a frame's mark and then the frame itself, so each
        mark came here within milliseconds of its frame (frames are 33 ms apart): the number of the
        frame received nearest each mark, less its seq, is the offset, the same for every frame
        while the camera stays connected (the app's seq counts the frames it decoded). The most
        common one is taken; (None, None) when there is nothing to match."""
        numbered = [f for f in frames if f.counter is not None]
        times = [f.at for f in numbered]
        votes: Counter[int] = Counter()
        for (camera, seq), mark in list(self.by_seq.items()):      # the reader thread adds on
            if camera != camera_id or not times:
                continue
            i = bisect.bisect_left(times, mark[3])
            near = min((j for j in (i - 1, i) if 0 <= j < len(times)), key=lambda j: abs(times[j] - mark[3]))
            counter = numbered[near].counter
            assert counter is not None
            votes[counter - seq] += 1
        if not votes:
            return None, None
        offset, agree = votes.most_common(1)[0]
        return offset, agree / sum(votes.values())
