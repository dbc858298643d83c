"""The ``edgeface`` command. Each area registers its own subcommands from a small module.

The settings tree (edgeface.settings) is loaded once here, before any handler runs, and handed to
it as ``args.settings``; a bad value stops the command with exit code 2 before any work.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys

from edgeface import __version__, settings
from edgeface.errors import EdgefaceError

#: Modules exposing ``register(subparsers)``; their heavy imports happen inside the handlers.
COMMAND_MODULES = (
    "edgeface.cli_core",      # train, recognize, model
    "edgeface.cli_live",      # serve
    "edgeface.cli_settings",  # settings
    "edgeface.cli_audit",     # audit verify
)
#: Developer commands: in a checkout only (the edge wheel and image leave ``edgeface/tools`` out).
#: Looked up by name, so nothing of the edge package imports the tools.
TOOL_MODULES = {
    "demo": "edgeface.tools.cli_demo",
    "camera": "edgeface.tools.cli_camera",        # the camera simulator
    "bench": "edgeface.tools.cli_bench",
    "pipeline": "edgeface.tools.cli_pipeline",
    "review": "edgeface.tools.cli_review",        # captures from the edge: cluster, name
}
TOOLS_ELSEWHERE = ("edgeface {command} is a developer tool, not part of this installation: run it from a "
                   "checkout of the edgeface repository (pip install -e . there)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgeface", description="Face recognition and video analytics at the edge.")
    parser.add_argument("--version", action="version", version=f"edgeface {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    if _have_tools():
        for name in TOOL_MODULES.values():
            importlib.import_module(name).register(sub)
    return parser


def _have_tools() -> bool:
    return importlib.util.find_spec("edgeface.tools") is not None


def main(argv: list[str] | None = None) -> int:
    command = next((a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")), None)
    if command in TOOL_MODULES and not _have_tools():
        print(f"edgeface: {TOOLS_ELSEWHERE.format(command=command)}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)   # its plugin list, at import
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        args.settings = settings.load()
        return int(args.handler(args) or 0)
    except EdgefaceError as err:
        print(f"edgeface: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        if err.filename is None:  # not about a path the user gave: a bug or the network, keep the traceback
            raise
        print(f"edgeface: error: {err.filename}: {err.strerror or err} — check the path, its folder and "
              f"permissions", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
