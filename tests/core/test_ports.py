"""Loopback ports for the processes edgeface starts: never the same one twice in a process."""

from edgeface.ports import free_port


def test_free_port_never_hands_out_a_port_twice():
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
