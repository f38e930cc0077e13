"""Interop's reference data, the supervisor's: how a CAD's call types and caution notes map onto
the program's (see `server.reference_edits`; the admin's pages call these)."""

from __future__ import annotations

from server.interop.models import CallTypeMapping, CautionMapping
from server.reference_edits import reference_commands

save_call_type_mapping, delete_call_type_mapping = reference_commands(
    CallTypeMapping, name="call_type_mapping", on="any CAD call-type mapping"
)
save_caution_mapping, delete_caution_mapping = reference_commands(
    CautionMapping, name="caution_mapping", on="any CAD caution mapping"
)
