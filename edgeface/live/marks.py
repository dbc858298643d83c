"""The faces on every camera's shown frames, as metadata for the browser to draw (one stream a page).

Each camera's worker publishes, per shown frame with faces (and once when they go), what its
frame carries: boxes in frame pixels, states, names, plain-words confidence, how old the analysis
behind them is. Readers (the console's event stream) wait on the one ``MarkBoard`` for all cameras
and get the newest message of each camera that changed; a slow reader skips messages, it never
queues them. Other site-wide notices (alerts) travel on the same board as their own kind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from edgeface.history.review import CLOSE
from edgeface.live.annotate import FaceLabel
from edgeface.live.tracking import TrackState


def confidence(label: FaceLabel, tolerance: float) -> str | None:
    """A named face's distance in a word: ``"sure"`` within ``CLOSE`` (0.75) of the tolerance —
    what the events call a close match — else ``"likely"`` (a weak match: named, but nearer the
    tolerance, where a look-alike could reach); None for a face without a name (Unknown, or
    still being identified). With the default tolerance 0.6: sure up to 0.45."""
    if label.state != TrackState.NAMED or label.distance is None:
        return None
    return "sure" if label.distance <= CLOSE * tolerance else "likely"


@dataclass(frozen=True)
class Mark:
    """One message: ``kind`` ("faces", "alert"), the camera it is about, its JSON body."""
    seq: int
    kind: str
    camera: str
    body: dict


class MarkBoard:
    """The newest ``faces`` message per camera, and recent alerts, with one sequence for all."""

    ALERTS_KEPT = 32

    def __init__(self):
        self._cond = threading.Condition()
        self._seq = 0
        self._faces: dict[str, Mark] = {}
        self._alerts: list[Mark] = []
        self._readers = 0
        self._closed = False

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def watched(self) -> bool:
        """Someone reads: workers make messages only then."""
        return self._readers > 0

    def publish(self, kind: str, camera: str, body: dict) -> None:
        with self._cond:
            self._seq += 1
            mark = Mark(self._seq, kind, camera, body)
            if kind == "faces":
                self._faces[camera] = mark
            else:
                self._alerts = [*self._alerts[-(self.ALERTS_KEPT - 1):], mark]
            self._cond.notify_all()

    def forget(self, camera: str) -> None:
        """A removed camera's last message is not sent to new readers."""
        with self._cond:
            self._faces.pop(camera, None)

    def wait(self, after_seq: int, timeout: float, cameras: frozenset[str] | None = None) -> list[Mark]:
        """Messages newer than ``after_seq`` (for ``cameras`` only, when given; alerts always), in
        order; [] on timeout or close."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._closed:
                if self._seq > after_seq:
                    fresh = [m for m in (*self._faces.values(), *self._alerts) if m.seq > after_seq
                             and (m.kind != "faces" or cameras is None or m.camera in cameras)]
                    if fresh:
                        return sorted(fresh, key=lambda m: m.seq)
                    after_seq = self._seq
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(left)
        return []

    def reading(self) -> _Reader:
        """``with board.reading():`` counts a reader while the stream is open."""
        return _Reader(self)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class _Reader:
    def __init__(self, board: MarkBoard):
        self.board = board

    def __enter__(self) -> MarkBoard:
        with self.board._cond:
            self.board._readers += 1
        return self.board

    def __exit__(self, *exc) -> None:
        with self.board._cond:
            self.board._readers -= 1


def faces_message(faces: Iterable[FaceLabel], *, seq: int, frame_time: float, lag_s: float | None,
                  tolerance: float, size: tuple[int, int] | None, camera_frame: int | None) -> dict:
    """The ``faces`` message of one shown frame. ``frame_time`` is monotonic: sent as wall-clock
    epoch seconds (``at``), and ``lag_s`` is how old the newest analysis was at that frame — the
    browser hides boxes whose analysis is too old. ``camera_frame`` is the camera's own frame
    number when it stamps one (the benchmark's cameras do): what lets a test find the frame."""
    at = time.time() - (time.monotonic() - frame_time)
    return {"seq": seq, "at": round(at, 3), "lag_s": None if lag_s is None else round(lag_s, 3),
            "size": list(size) if size else None, "camera_frame": camera_frame,
            "faces": [{**f.as_json(), "confidence": confidence(f, tolerance)} for f in faces]}
