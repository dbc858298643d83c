"""edgeface.lifecycle: threads, child processes, rates and log-on-change, with real threads and
real child processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

from edgeface.lifecycle import ChildProcess, LogOnChange, RateCounter, Service, stop_all

#: A child that says it is ready, then sleeps; with "ignore" it shrugs off SIGTERM.
CHILD = ("import signal, sys, time\n"
         "if sys.argv[1:] == ['ignore']: signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
         "print('ready', flush=True)\n"
         "time.sleep(60)\n")


def _child(*args: str) -> ChildProcess:
    child = ChildProcess("sleeper", [sys.executable, "-c", CHILD, *args], stdout=subprocess.PIPE).start()
    assert child.proc is not None and child.proc.stdout is not None
    assert child.proc.stdout.readline() == b"ready\n"      # its signal handling is in place
    return child


class Ticker(Service):
    def __init__(self):
        super().__init__("ticker")
        self.ticks = 0
        self.woken = threading.Event()
        self.released = 0

    def run(self) -> None:
        while not self.wait(0.01):
            self.ticks += 1

    def _wake(self) -> None:
        self.woken.set()

    def _closed(self) -> None:
        self.released += 1


def test_a_service_runs_until_closed_and_closes_once():
    with Ticker().start() as ticker:
        deadline = time.monotonic() + 5
        while ticker.ticks < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ticker.is_alive() and ticker.ticks >= 3
    assert not ticker.is_alive() and ticker.woken.is_set() and ticker.released == 1
    ticks = ticker.ticks
    ticker.close()
    assert ticker.released == 1 and ticker.ticks == ticks


def test_a_service_may_close_itself_and_one_never_started_closes_too():
    class Once(Service):
        def run(self) -> None:
            self.close()                     # from its own thread: no self-join deadlock

    once = Once("once").start()
    once._thread.join(5)
    assert not once.is_alive() and once.stopping
    never = Ticker()
    never.close()
    assert never.released == 1 and not never.is_alive()


def test_a_child_is_stopped_with_sigterm_and_killed_when_it_ignores_it():
    polite, stubborn = _child(), _child("ignore")
    assert polite.stop(timeout=10) == -signal.SIGTERM
    started = time.monotonic()
    assert stubborn.stop(timeout=0.5) == -signal.SIGKILL
    assert time.monotonic() - started < 5
    assert polite.stop() == -signal.SIGTERM and not polite.running(), "a second stop must be harmless"


def test_a_dead_child_is_restarted_the_same_way():
    child = _child()
    first = child.pid
    child.proc.kill()
    child.proc.wait()
    assert not child.running() and child.returncode == -signal.SIGKILL
    child.restart()
    assert child.running() and child.pid != first
    assert child.proc.stdout.readline() == b"ready\n", "not started with the same command and pipes"
    child.stop()


def test_stop_all_stops_children_in_parallel_and_reports_the_killed():
    children = [_child(), _child("ignore"), _child()]
    never_started = ChildProcess("never", [sys.executable, "-c", "pass"])
    started = time.monotonic()
    killed = stop_all([*children, never_started], timeout=1.0)
    assert killed == [children[1]]
    assert time.monotonic() - started < 5, "children were stopped one after the other"
    assert [c.returncode for c in children] == [-signal.SIGTERM, -signal.SIGKILL, -signal.SIGTERM]


def test_rate_counter_counts_events_per_second_in_its_window():
    rate = RateCounter(window_s=2.0)
    assert rate.rate(now=0.0) == 0.0
    for i in range(31):                  # 10 per second for 3 s
        rate.tick(now=i / 10)
    assert abs(rate.rate(now=3.0) - 10.0) < 1e-6
    assert rate.rate(now=4.95) == 0.0, "one event in the window is no rate"
    still = RateCounter()
    still.tick(now=1.0)
    still.tick(now=1.0)
    assert still.rate(now=1.0) == 0.0


def test_log_on_change_says_a_message_once_then_once_a_minute():
    gate = LogOnChange(repeat_s=60.0)
    assert gate.fresh("disk full", now=0.0) and not gate.fresh("disk full", now=30.0)
    assert gate.fresh("disk full", now=61.0) and gate.fresh("no model", now=62.0)
    assert gate.last == "no model" and gate.clear() and not gate.clear()
    assert gate.fresh("no model", now=63.0), "after clear() the same message is news again"
    quiet = LogOnChange(repeat_s=None)
    assert quiet.fresh("x", now=0.0) and not quiet.fresh("x", now=1e6)
