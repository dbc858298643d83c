"""CPU time and memory of a process and all its descendants, from /proc (Linux)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class TreeUsage:
    cpu_s: float        # user + system time of the live processes in the tree
    rss_mb: float       # sum of resident set sizes (pages shared between them counted in each)
    pss_mb: float       # proportional set size: shared pages split between sharers (a fair total)
    processes: int


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()    # the command name may contain spaces


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))):
            children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def _memory_kb(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def tree_usage(root: int) -> TreeUsage:
    cpu = rss = pss = count = 0
    for pid in descendants(root):
        fields = _stat(pid)
        if fields is None:
            continue
        cpu += int(fields[11]) + int(fields[12])     # utime, stime (clock ticks)
        r, p = _memory_kb(pid)
        rss, pss, count = rss + r, pss + p, count + 1
    return TreeUsage(cpu / CLOCK_TICKS, rss / 1024, pss / 1024, count)


def loadavg() -> list[float]:
    return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
