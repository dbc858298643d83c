"""``edgeface settings``: the settings in effect (secrets masked), or their reference table."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("settings", help="show the settings in effect, or the table of every variable",
                       description="Settings are environment variables, read once when a command starts.")
    p.add_argument("--markdown", action="store_true",
                   help="print the reference table of every variable (docs/settings.md) instead")
    p.set_defaults(handler=cmd_settings)


def cmd_settings(args) -> int:
    from edgeface.settings import markdown

    # mode="json": SecretStr values come out as "**********", networks and paths as text.
    print(markdown() if args.markdown else json.dumps(args.settings.model_dump(mode="json"), indent=2))
    return 0
