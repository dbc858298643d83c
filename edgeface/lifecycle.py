"""One convention for everything that runs beside the caller: threads, child processes, rates, logs.

- :class:`Service`: a background thread. ``start()`` returns the service, ``close()`` stops it and
  joins (idempotent, safe from the service's own thread), ``with`` closes it.
- :class:`ChildProcess`: a child started by PID and stopped by PID: SIGTERM, then SIGKILL after a
  grace period; ``restart()`` for a child that died.
- :class:`RateCounter`: events per second over a sliding window (frames in, frames out).
- :class:`LogOnChange`: a recurring problem is logged when it changes, or again once a minute, not
  on every frame or poll.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import IO, Any, TypeVar

_S = TypeVar("_S", bound="Service")
_C = TypeVar("_C", bound="ChildProcess")


class Service:
    """A background thread running :meth:`run` until :meth:`close`.

    ``run`` loops on ``while not self.wait(seconds)`` or checks :attr:`stopping`; a run blocked
    elsewhere (a socket, a queue) is woken by overriding :meth:`_wake`. Subclasses release their
    own resources in :meth:`_closed`, which runs once, after the thread has stopped.
    """

    def __init__(self, name: str):
        self.name = name
        self._stop_event = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._close_lock = threading.Lock()
        self._was_closed = False

    def start(self: _S) -> _S:
        self._thread.start()
        return self

    def run(self) -> None:
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when the service is stopping (then stop at once)."""
        return self._stop_event.wait(seconds)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def request_stop(self) -> None:
        """Tell the thread to stop, without waiting (``close`` waits); for stopping several
        services in parallel, or this one before its neighbours."""
        self._stop_event.set()
        self._wake()

    def close(self, timeout: float = 10.0) -> None:
        """Stop and join the thread; release resources. Idempotent; from ``run`` itself it does
        not join (a thread cannot join itself)."""
        with self._close_lock:
            if self._was_closed:
                return
            self._was_closed = True
        self.request_stop()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._closed()

    def _main(self) -> None:
        self.run()

    def _wake(self) -> None:
        """Unblock ``run`` where it waits on something other than :meth:`wait`."""

    def _closed(self) -> None:
        """Release what the service holds, after its thread has stopped."""

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class ChildProcess:
    """A child process: ``start()``, ``stop()`` (SIGTERM, SIGKILL after ``timeout``), ``restart()``.

    ``argv`` and the Popen options are kept so that a child that died can be started again the
    same way. ``stop`` and ``close`` are idempotent; ``with`` stops the child.
    """

    def __init__(self, label: str, argv: Sequence[str], *, env: dict[str, str] | None = None,
                 stdin: int | IO[Any] | None = subprocess.DEVNULL, stdout: int | IO[Any] | None = None,
                 stderr: int | IO[Any] | None = None, pass_fds: Sequence[int] = (),
                 new_session: bool = False):
        self.label = label
        self.argv = list(argv)
        self._options: dict[str, Any] = dict(env=env, stdin=stdin, stdout=stdout, stderr=stderr,
                                             pass_fds=tuple(pass_fds), start_new_session=new_session)
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0       # time.monotonic() of the last start

    def start(self: _C) -> _C:
        self.proc = subprocess.Popen(self.argv, **self._options)
        self.started_at = time.monotonic()
        return self

    @property
    def pid(self) -> int:
        return self._running_proc().pid

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """Ask the child to stop (SIGTERM), without waiting."""
        if self.running():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)

    def wait_or_kill(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` for the child to exit, then SIGKILL it; its exit status."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def stop(self, timeout: float = 10.0, *, terminate: bool = True) -> int | None:
        """SIGTERM (unless ``terminate=False``: the caller asked it some other way), wait up to
        ``timeout``, then SIGKILL. Returns the exit status (None when never started)."""
        if terminate:
            self.terminate()
        return self.wait_or_kill(timeout)

    def restart(self: _C, timeout: float = 10.0) -> _C:
        self.stop(timeout)
        return self.start()

    close = stop

    def _running_proc(self) -> subprocess.Popen[bytes]:
        if self.proc is None:
            raise RuntimeError(f"{self.label} was not started")
        return self.proc

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def stop_all(children: Iterable[ChildProcess], timeout: float = 15.0) -> list[ChildProcess]:
    """SIGTERM every child at once (they shut down in parallel), then wait for each in turn,
    killing those that outlive ``timeout``. Returns the ones that had to be killed."""
    children = list(children)
    for child in children:
        child.terminate()
    killed = []
    deadline = time.monotonic() + timeout
    for child in children:
        if child.proc is None:
            continue
        try:
            child.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait()
            killed.append(child)
    return killed


class RateCounter:
    """Events per second over the last ``window_s`` seconds. ``tick()`` from one thread, ``rate()``
    from any (it reads one atomic copy of the recent times)."""

    def __init__(self, window_s: float = 2.0, capacity: int = 128):
        self.window_s = window_s
        self._times: deque[float] = deque(maxlen=capacity)

    def tick(self, now: float | None = None) -> None:
        self._times.append(time.monotonic() if now is None else now)

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        recent = [t for t in tuple(self._times) if now - t <= self.window_s]
        if len(recent) < 2 or recent[-1] == recent[0]:
            return 0.0
        return (len(recent) - 1) / (recent[-1] - recent[0])


class LogOnChange:
    """Whether a recurring message is worth logging: yes when it differs from the last one, and
    (with ``repeat_s``) again when the same one was last logged that long ago. Thread-safe.

    Usage: ``if self._errors.fresh(text): log.warning(...)``; ``clear()`` when the problem is gone
    (it returns True when there was one, to log the recovery once)."""

    def __init__(self, repeat_s: float | None = 60.0):
        self.repeat_s = repeat_s
        self._lock = threading.Lock()
        self._last: str | None = None
        self._logged_at = float("-inf")

    @property
    def last(self) -> str | None:
        return self._last

    def fresh(self, message: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            same = message == self._last and (self.repeat_s is None or now - self._logged_at < self.repeat_s)
            if not same:
                self._last, self._logged_at = message, now
            return not same

    def clear(self) -> bool:
        with self._lock:
            had, self._last = self._last is not None, None
            return had
