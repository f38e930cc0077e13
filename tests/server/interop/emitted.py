"""The EIDO documents we emit, held against NENA's own schema (vendored under
server/interop/standards/nena-eido-1.0), and against the list of members NENA defines."""

from __future__ import annotations

from typing import Any

from server.interop.conformance import eido_components, eido_errors

ROOT = "EmergencyIncidentDataObjectType"
# CARE Field's one addition, documented in docs/cad-integration.md: a unit's emergency in the
# shape of NENA's UnitEmergencyStateType, which EIDO 1.0 defines but gives no place.
OURS = {("EmergencyResourceType", "unitEmergencyStateComponent"): "UnitEmergencyStateType"}


def _members(type_name: str) -> dict[str, Any]:
    """The properties NENA declares for a type, through its allOf."""
    declared: dict[str, Any] = {}
    schema = eido_components()[type_name]
    for part in schema.get("allOf", [schema]):
        if "$ref" in part:
            declared.update(_members(part["$ref"].rsplit("/", 1)[-1]))
        declared.update(part.get("properties", {}))
    return declared


def _target(member: dict) -> str | None:
    ref = (member.get("items") or member).get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref.startswith("#/components/schemas/") else None


def undeclared(value: Any, type_name: str = ROOT, at: str = "") -> list[str]:
    """Every member of the document NENA does not define where it stands (so no field of ours,
    clinical or other, can ride along unnoticed)."""
    if isinstance(value, list):
        return [m for n, item in enumerate(value) for m in undeclared(item, type_name, f"{at}/{n}")]
    if not isinstance(value, dict) or type_name == "ReferenceType":
        return []
    declared = _members(type_name)
    found = []
    for key, item in value.items():
        nested = OURS.get((type_name, key))
        if key not in declared and nested is None:
            found.append(f"{at}/{key}")
            continue
        target = nested or _target(declared[key])
        if target:
            found += undeclared(item, target, f"{at}/{key}")
    return found


def assert_valid_eido(document: dict) -> None:
    errors = eido_errors(document)
    assert not errors, errors
    extra = undeclared(document)
    assert extra == [], extra
    for unit in document.get("emergencyResourceComponent", []):
        for state in unit.get("unitEmergencyStateComponent", []):
            errors = eido_errors(state, "UnitEmergencyStateType")
            assert not errors, errors
