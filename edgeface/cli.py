"""The ``edgeface`` command. Each area registers its own subcommands from a small module.

The settings tree (edgeface.settings) is loaded once here, before any handler runs, and handed to
it as ``args.settings``; a bad value stops the command with exit code 2 before any work.
"""

from __future__ import annotations

import argparse
import importlib
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
    # Tools: not in the app image (edgeface/tools is left out of it), so not offered there.
    "edgeface.tools.cli_demo",      # demo
    "edgeface.tools.cli_camera",    # camera (simulator)
    "edgeface.tools.cli_bench",     # bench
    "edgeface.tools.cli_pipeline",  # pipeline
    "edgeface.tools.cli_review",    # review (captures from the edge: cluster, name)
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgeface", description="Face recognition and video analytics at the edge.")
    parser.add_argument("--version", action="version", version=f"edgeface {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            # The module or its package is absent (tools in the app image): not offered. A missing
            # dependency inside an existing module is a real error.
            if not err.name or not (name == err.name or name.startswith(err.name + ".")):
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
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
