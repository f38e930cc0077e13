"""The authorization policy as a table, made from the commands themselves (their `roles` and
`on`), for docs/security.md; a test fails when the document and the code differ."""

from __future__ import annotations

from server.accounts.models import Role
from server.commands import registered_commands

BEGIN = "<!-- policy table: made by `manage.py authorization_table`; do not edit by hand -->"
END = "<!-- end of policy table -->"

NAMES = {
    Role.DISPATCHER: "dispatcher",
    Role.CARE_RESPONDER: "CARE responder",
    Role.SPD_OFFICER: "SPD officer",
    Role.COORDINATOR: "coordinator",
    Role.ADMIN: "supervisor",
    "system:cad": "CAD key",
    "system:partner": "partner key",
}


def policy_table() -> str:
    rows = [
        "| command | who may run it (every door) | on which records |",
        "|---|---|---|",
    ]
    for command in registered_commands():
        who = ", ".join(NAMES[r] for r in NAMES if r in command.roles)
        rows.append(f"| `{command.name}` | {who} | {command.on} |")
    return "\n".join([BEGIN, "", *rows, "", END])
