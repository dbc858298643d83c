"""The claims docs/architecture.md makes that code can check: the layers (import-linter's
contract in pyproject.toml), views that ask only the live interface, threads that follow
edgeface.lifecycle, and developer tools kept out of the edge package."""

from __future__ import annotations

import ast
import os
import pkgutil
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:      # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

import edgeface
from edgeface.live.interface import LiveApi

REPO = Path(__file__).resolve().parents[1]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"],
                          cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True,
                          timeout=300)


def test_the_layers_hold_and_an_upward_import_breaks_them(tmp_path):
    assert lint_imports(REPO).returncode == 0, lint_imports(REPO).stdout[-3000:]
    for part in ("edgeface", "webapp"):
        shutil.copytree(REPO / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    visits = tmp_path / "edgeface" / "history" / "visits.py"
    visits.write_text(visits.read_text() + "\nfrom edgeface.live import service  # noqa: E402\n")
    broken = lint_imports(tmp_path)
    assert broken.returncode != 0 and "edgeface.history.visits -> edgeface.live.service" in broken.stdout, \
        broken.stdout[-3000:]


def test_every_module_of_the_package_has_a_layer():
    (contract,) = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    placed = {name.strip() for layer in contract["layers"] for name in layer.replace(":", "|").split("|")}
    modules = {f"edgeface.{m.name}" for m in pkgutil.iter_modules(edgeface.__path__)}
    assert modules - placed == set(), "a module of edgeface is in no layer of the contract: add it in pyproject.toml"


def test_views_ask_the_live_service_only_through_its_interface():
    allowed = {name for name in dir(LiveApi) if not name.startswith("_")}
    for path in (REPO / "webapp" / "blueprints").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("edgeface.live"):
                assert node.module == "edgeface.live.interface", f"{path.name} imports {node.module}"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call) \
                    and getattr(node.value.func, "id", None) == "service":
                assert node.attr in allowed, f"{path.name} asks service().{node.attr}, which LiveApi does not offer"


def test_every_thread_and_pool_belongs_to_something_that_closes():
    """A thread or pool is made by a class with ``close()`` (``edgeface.lifecycle.Service`` or its
    own), never left to a module or a function."""
    for path in [*(REPO / "edgeface").rglob("*.py"), *(REPO / "webapp").rglob("*.py")]:
        if "tools" in path.relative_to(REPO).parts or path.name == "lifecycle.py":
            continue
        tree = ast.parse(path.read_text())
        for cls in [None, *[n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]]:
            body = tree if cls is None else cls
            makes = [n for n in ast.walk(body) if isinstance(n, ast.Call)
                     and getattr(n.func, "attr", getattr(n.func, "id", None)) in ("Thread", "ThreadPoolExecutor")]
            if cls is None:
                in_classes = {id(n) for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for n in ast.walk(c)}
                assert all(id(n) in in_classes for n in makes), f"{path}: a thread made outside any class"
            elif makes:
                methods = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in cls.bases}
                assert "close" in methods or "Service" in bases, f"{path}: {cls.name} makes threads but has no close()"


@pytest.mark.slow
def test_the_edge_wheel_leaves_the_developer_tools_out(tmp_path):
    source = tmp_path / "source"       # a clean copy: an in-tree build would reuse a stale build/ folder
    for part in ("edgeface", "webapp"):
        shutil.copytree(REPO / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("edgeface-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "edgeface/live/search.py" in names and "webapp/__init__.py" in names
    assert not [n for n in names if n.startswith("edgeface/tools/")], "the edge wheel carries the developer tools"
    # Where the tools are absent, asking for one says in one line where it lives.
    hide = "import sys; sys.modules['edgeface.tools'] = None; from edgeface.cli import main; sys.exit(main())"
    proc = subprocess.run([sys.executable, "-c", hide, "bench", "--cameras", "8"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "developer tool" in proc.stderr and "checkout" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
