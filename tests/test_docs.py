"""The docs name only code that exists: every ``edgeface.…`` dotted name in README.md and docs/
must import (a module) or resolve (an attribute of one), and every relative link must point at a
file. This is what keeps the prose from drifting when modules move."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOTTED = re.compile(r"`(edgeface(?:\.[A-Za-z][A-Za-z0-9_]*)+)")
LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)#\s]+)")


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        try:
            for name in parts[cut:]:
                obj = getattr(obj, name)
        except AttributeError:
            return False
        return True
    return False


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_named_module_and_attribute_exists(doc: Path):
    names = sorted(set(DOTTED.findall(doc.read_text(encoding="utf-8"))))
    missing = [n for n in names if not _resolves(n)]
    assert not missing, f"{doc.name} names code that does not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_points_at_a_file(doc: Path):
    targets = LINK.findall(doc.read_text(encoding="utf-8"))
    broken = [t for t in targets if not (doc.parent / t).exists()]
    assert not broken, f"{doc.name} links to files that do not exist: {broken}"
