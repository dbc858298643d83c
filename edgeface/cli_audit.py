"""``edgeface audit verify``: check the audit trail's hash chain (``edgeface.history.audit``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgeface.errors import EdgefaceError


def register(sub) -> None:
    p = sub.add_parser("audit", help="check the audit trail of who did what",
                       description="The audit trail lives in the event history's database (EDGEFACE_EVENTS_DIR).")
    actions = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="check every row's hash and link; exit 1 naming each row tampered with")
    verify.add_argument("--dir", metavar="FOLDER", help="the events folder (default $EDGEFACE_EVENTS_DIR)")
    verify.add_argument("--head", metavar="SEQ:HASH", type=known_row,
                        help="a row kept elsewhere (the core's newest from edgeface/<site>/audit): "
                             "rows deleted from the end show too")
    verify.add_argument("--json", action="store_true", help="print the verdict as JSON")
    verify.set_defaults(handler=cmd_verify)


def known_row(text: str) -> tuple[int, str]:
    seq, _, digest = text.partition(":")
    if not (seq.isascii() and seq.isdigit() and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        raise argparse.ArgumentTypeError(f"{text[:80]!r} is not SEQ:HASH (a row number, ':', 64 hex digits)")
    return int(seq), digest


def cmd_verify(args) -> int:
    from edgeface.history.audit import AuditTrail
    from edgeface.history.db import DB_NAME, open_database

    folder = args.dir or args.settings.events.dir
    if not folder:
        raise EdgefaceError("no events folder given", "pass --dir FOLDER or set EDGEFACE_EVENTS_DIR")
    if not (Path(folder) / DB_NAME).is_file():     # open_database would create an empty one
        raise EdgefaceError(f"no event history in {folder} (no {DB_NAME})", "pass the app's EDGEFACE_EVENTS_DIR")
    engine = open_database(Path(folder))
    try:
        verdict = AuditTrail(engine).verify(args.head)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(verdict.as_json()))
    else:
        print(verdict.report())
    return 0 if verdict.ok else 1
