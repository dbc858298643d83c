"""One camera's clip recorder: the frames the camera shows, sampled a few times a second, kept
around the faces on them (docs/clips.md).

The worker asks ``due(now)`` before a frame goes through the pipeline — only then does it need
the frame's JPEG when nobody watches — and hands the shown frame's bytes (``FramePipeline._output``:
already blurred as the camera's privacy requires) to ``add``. Idle, the recorder keeps the last
``pre_s`` seconds in a ring; a face opens a segment with that ring as its pre-roll; ``post_s``
seconds after the last face the segment is finished and handed to ``sink`` (the clip store encodes
it on its own thread). A segment is ``max_s`` long at most: a longer stay keeps its first
``max_s`` and a departure clip — its last ``TAIL_S`` seconds and the post-roll — not its middle.
Called from the camera's thread only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from edgeface.history.clips import Segment

TAIL_S = 15.0        # a long stay's departure clip: this much before the last face (memory: ~60 JPEGs)


class ClipRecorder:
    def __init__(self, camera: str, sink: Callable[[Segment], object], *, fps: float = 4.0, pre_s: float = 3.0,
                 post_s: float = 3.0, max_s: float = 60.0):
        if fps <= 0:
            raise ValueError("a clip recorder needs a frame rate above 0")
        self.camera, self.sink = camera, sink
        self.fps, self.pre_s, self.post_s, self.max_s = fps, pre_s, post_s, max_s
        self._ring: deque[tuple[float, bytes]] = deque()    # idle: the pre-roll; past max_s: the tail
        self._segment: list[tuple[float, bytes]] | None = None
        self._long = False                 # the stay outlasted max_s: the ring keeps its tail
        self._last_face = float("-inf")
        self._sampled = float("-inf")

    def due(self, now: float) -> bool:
        """A sample is wanted now (``fps`` a second at most)."""
        return now - self._sampled >= 1.0 / self.fps - 1e-3

    @property
    def recording(self) -> bool:
        return self._segment is not None or self._long

    def add(self, t: float, jpeg: bytes, faces: bool) -> None:
        """A shown frame at epoch ``t`` with (``faces``) or without faces on it."""
        self._sampled = t
        if faces:
            self._last_face = t
        if self._segment is not None:
            self._segment.append((t, jpeg))
            if self._gone(t):
                self._finish(self._segment)
            elif t - self._segment[0][0] >= self.max_s:
                self._finish(self._segment)
                self._long = True
            return
        if faces and not self._long:
            self._segment = [*self._ring, (t, jpeg)]
            self._ring.clear()
            return
        self._ring.append((t, jpeg))
        if self._long and self._gone(t):
            self._finish(list(self._ring))        # the departure clip
            self._long = False
            self._ring.clear()
            return
        keep = TAIL_S + self.post_s if self._long else self.pre_s
        while self._ring and self._ring[0][0] <= t - keep:    # keep s with the frame to come
            self._ring.popleft()

    def idle(self, now: float) -> None:
        """No frame came (camera offline): a stay is over once the post-roll has passed."""
        if self.recording and self._gone(now):
            self.flush()

    def flush(self) -> None:
        """Finish what is being recorded (the camera went, the app stops)."""
        if self._segment is not None:
            self._finish(self._segment)
        elif self._long and self._ring:
            self._finish(list(self._ring))
        self._long = False
        self._ring.clear()

    def _gone(self, t: float) -> bool:
        return t - self._last_face > self.post_s

    def _finish(self, frames: list[tuple[float, bytes]]) -> None:
        self._segment = None
        if frames:
            self.sink(Segment(self.camera, frames, self.fps))
