"""Loopback ports for the processes that edgeface starts itself (demo, benchmark, tests)."""

import socket
import threading

_given: set[int] = set()
_lock = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it), never one this
    process was given before: the port is free only until its user binds it, and the OS hands a
    just-released port out again (a benchmark picked the same port for its app and its cameras)."""
    with _lock:
        for _ in range(100):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _given:
                _given.add(port)
                return port
    raise OSError("no unused loopback port found in 100 tries")
