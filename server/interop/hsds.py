"""The services directory in Open Referral HSDS 3.0: read a publication (the JSON form — tables
of objects linked by UUID `id`, or the API's nested service objects — or the tabular form, a
Frictionless data package of CSV files) into the care directory, and publish the directory back.

Reading never trusts a row: each service is checked here for what HSDS requires (a UUID id, a
name, a known organization, a status from HSDS's list) and by the care service for what the
directory stores; a refused row is reported with its reason and the rest go on.
"""

from __future__ import annotations

import datetime
import decimal
import json
import re
import tempfile
import time
import uuid
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.db import transaction
from frictionless import Detector, FrictionlessException, Package, Resource

from server.care.models import DirectoryService, DirectoryStatus
from server.care.services import import_directory

MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
# An import that would take more than this share of the services offered out of use is applied
# only when confirmed (a publisher's mistake, or an empty file, must not wipe the directory).
CONFIRM_SHARE = 0.25
MAX_ZIP_BYTES = 50 * 1024 * 1024
FETCH_SECONDS = 60  # the whole publication, every file of it
TABLES = {
    "organization": "organizations",
    "service": "services",
    "location": "locations",
    "address": "addresses",
    "service_at_location": "service_at_locations",
    "phone": "phones",
    "schedule": "schedules",
    "service_capacity": "service_capacity",
    "unit": "units",
    "attribute": "attributes",
    "taxonomy_term": "taxonomy_terms",
}
BY_FILE = {plural: table for table, plural in TABLES.items()}
STATUSES = {choice.value for choice in DirectoryStatus}
SCHEDULE_FIELDS = (
    "freq", "interval", "byday", "bymonthday", "opens_at", "closes_at", "valid_from", "valid_to",
    "timezone", "description",
)  # fmt: skip


class PublicationError(Exception):
    """The publication as a whole can't be read (not one row of it)."""


@dataclass
class Publication:
    tables: dict[str, list[dict[str, Any]]]
    refused: list[dict[str, Any]] = field(default_factory=list)


# ---- reading the two forms ------------------------------------------------------------------


def _text(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | float):
        return int(value) if value == int(value) else float(value)
    return value


def _flatten_service(service: dict[str, Any], tables: dict[str, list]) -> None:
    """One nested HSDS service object (the API's form) into the tables."""
    sid = service.get("id")
    flat = {k: v for k, v in service.items() if not isinstance(v, list | dict)}
    organization = service.get("organization")
    if isinstance(organization, dict):
        tables["organization"].append(
            {k: v for k, v in organization.items() if not isinstance(v, list | dict)}
        )
        flat.setdefault("organization_id", organization.get("id"))
    tables["service"].append(flat)
    for phone in service.get("phones") or []:
        tables["phone"].append({**phone, "service_id": sid})
    for schedule in service.get("schedules") or []:
        tables["schedule"].append({**schedule, "service_id": sid})
    for capacity in service.get("capacities") or service.get("service_capacities") or []:
        unit = capacity.get("unit")
        row = {k: v for k, v in capacity.items() if k != "unit"}
        if isinstance(unit, dict):
            tables["unit"].append(unit)
            row["unit_id"] = unit.get("id")
        tables["service_capacity"].append({**row, "service_id": sid})
    for attribute in service.get("attributes") or []:
        term = attribute.get("taxonomy_term")
        row = {k: v for k, v in attribute.items() if k != "taxonomy_term"}
        if isinstance(term, dict):
            tables["taxonomy_term"].append(term)
            row["taxonomy_term_id"] = term.get("id")
        tables["attribute"].append({**row, "link_id": sid})
    for at in service.get("service_at_locations") or []:
        location = at.get("location") or {}
        tables["service_at_location"].append(
            {"id": at.get("id"), "service_id": sid, "location_id": location.get("id")}
        )
        if location:
            tables["location"].append(
                {k: v for k, v in location.items() if not isinstance(v, list | dict)}
            )
            for address in location.get("addresses") or []:
                tables["address"].append({**address, "location_id": location.get("id")})
            for phone in location.get("phones") or []:
                tables["phone"].append({**phone, "location_id": location.get("id")})


def read_json(data: Any) -> Publication:
    tables: dict[str, list] = defaultdict(list)
    if isinstance(data, dict) and "contents" in data:
        data = data["contents"]
    if isinstance(data, dict) and any(name in data for name in TABLES):
        for name in TABLES:
            rows = data.get(name) or []
            if not isinstance(rows, list):
                raise PublicationError(f"'{name}' must be a list of objects.")
            tables[name].extend(row for row in rows if isinstance(row, dict))
    elif isinstance(data, list):
        for service in data:
            if isinstance(service, dict):
                _flatten_service(service, tables)
    elif isinstance(data, dict) and "id" in data:
        _flatten_service(data, tables)
    else:
        raise PublicationError("Not an HSDS publication: no service or table found.")
    return Publication(tables=dict(tables))


def _table_of(resource: Resource) -> str | None:
    name = (resource.name or "").replace("-", "_")
    if name in TABLES:
        return name
    stem = Path(str(resource.path or "")).stem
    return BY_FILE.get(stem) or (stem if stem in TABLES else None)


# ---- a package's references: files beside it, nothing fetched ------------------------------

PROFILE_NAMES = {"data-package", "tabular-data-package", "data-resource", "tabular-data-resource"}


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise PublicationError(f"{path.name} is not JSON: {exc}") from exc


def _is_remote(ref: str) -> bool:
    return "://" in ref or ref.startswith(("//", "/", "\\")) or ":" in ref.split("/")[0]


def _inside(folder: Path, ref: Any) -> str:
    """A reference to a file inside the package's folder, as a path relative to it."""
    if not isinstance(ref, str) or not ref or _is_remote(ref):
        raise PublicationError(f"The package refers to {ref!r}, not to a file beside it.")
    target = (folder / ref).resolve()
    if folder not in target.parents or not target.is_file():
        raise PublicationError(f"The package refers to {ref!r}, not to a file beside it.")
    return ref


def _without_remote_profile(item: dict) -> dict:
    """Frictionless fetches a profile named by URL to check against: keep only the standard
    profiles it knows by name."""
    item.pop("$schema", None)
    if str(item.get("profile", "")) not in PROFILE_NAMES:
        item.pop("profile", None)
    return item


def local_descriptor(path: Path) -> dict[str, Any]:
    """The package's descriptor with every reference (resource paths, schemas and dialects given
    by name, profiles) checked to be a file inside its folder or dropped, and schemas read here:
    Frictionless is handed nothing it would fetch, wherever the package came from."""
    folder = path.parent.resolve()
    descriptor = _load_json(path)
    resources = descriptor.get("resources") if isinstance(descriptor, dict) else None
    if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
        raise PublicationError("The data package lists no resources.")
    _without_remote_profile(descriptor)
    for resource in resources:
        _without_remote_profile(resource)
        paths = resource.get("path")
        for ref in paths if isinstance(paths, list) else [paths] if paths is not None else []:
            _inside(folder, ref)
        for key in ("schema", "dialect"):
            if isinstance(resource.get(key), str):
                resource[key] = _load_json(folder / _inside(folder, resource[key]))
            if isinstance(resource.get(key), dict):
                _without_remote_profile(resource[key])
            elif key in resource:
                raise PublicationError(f"A resource's {key} is neither an object nor a file.")
    return descriptor


def read_package(descriptor: Path) -> Publication:
    try:
        return _read_package(descriptor)
    except FrictionlessException as exc:
        raise PublicationError(f"The data package can't be read: {exc.error.message}") from exc


def _read_package(descriptor: Path) -> Publication:
    """A Frictionless data package (datapackage.json beside its CSV files), or a folder of HSDS
    CSV files without one. Rows the package's own schema refuses are refused here."""
    if descriptor.is_dir() and not (descriptor / "datapackage.json").exists():
        package = Package(
            resources=[
                Resource(path=str(path), detector=Detector(field_type="string"))
                for path in sorted(descriptor.glob("*.csv"))
            ]
        )
    else:
        if descriptor.is_dir():
            descriptor = descriptor / "datapackage.json"
        package = Package(local_descriptor(descriptor), basepath=str(descriptor.parent))
    tables: dict[str, list] = defaultdict(list)
    refused: list[dict[str, Any]] = []
    for resource in package.resources:
        table = _table_of(resource)
        if table is None:
            continue
        if not resource.schema or not resource.schema.fields:
            resource.detector = Detector(field_type="string")
        with resource:
            for row in resource.row_stream:
                values = {k: _text(v) for k, v in row.to_dict().items() if v not in (None, "")}
                if row.valid:
                    tables[table].append(values)
                else:
                    refused.append(
                        {
                            "table": table,
                            "row": row.row_number,
                            "id": values.get("id", ""),
                            "reason": "; ".join(error.message for error in row.errors),
                        }
                    )
    return Publication(tables=dict(tables), refused=refused)


ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
              ValueError, OSError)  # fmt: skip


def _safe_extract(archive: zipfile.ZipFile, into: Path) -> None:
    """Unpack, counting the bytes really written, not the sizes the headers claim (a header can
    lie: a small declared size over a bomb, a wrong CRC, a truncated entry)."""
    root = into.resolve()
    budget = MAX_ZIP_BYTES
    for member in archive.infolist():
        target = (into / member.filename).resolve()
        if target != root and root not in target.parents:
            raise PublicationError(f"The archive holds a path outside itself: {member.filename}")
        if member.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member) as source, target.open("wb") as out:
            while chunk := source.read(65536):
                budget -= len(chunk)
                if budget < 0:
                    raise PublicationError("The archive is too large to unpack.")
                out.write(chunk)


def _read_zip(path: Path) -> Publication:
    with tempfile.TemporaryDirectory() as folder:
        try:
            with zipfile.ZipFile(path) as archive:
                _safe_extract(archive, Path(folder))
        except ZIP_ERRORS as exc:
            raise PublicationError(f"The archive is damaged and can't be unpacked: {exc}") from exc
        return read_file(_package_in(Path(folder)))


def _package_in(folder: Path) -> Path:
    found = sorted(folder.rglob("datapackage.json"))
    if found:
        return found[0]
    csvs = sorted(folder.rglob("*.csv"))
    if csvs:
        return csvs[0].parent
    jsons = sorted(folder.rglob("*.json"))
    if jsons:
        return jsons[0]
    raise PublicationError("The archive holds no HSDS publication.")


def read_file(path: Path) -> Publication:
    if path.is_dir():
        return read_package(path)
    if zipfile.is_zipfile(path):
        return _read_zip(path)
    if path.name == "datapackage.json":
        return read_package(path)
    data = _load_json(path)
    if isinstance(data, dict) and "resources" in data:
        return read_package(path)
    return read_json(data)


# ---- fetching a publication: its own origin only, bounded ----------------------------------

MAX_REDIRECTS = 3
PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError as exc:
        raise PublicationError(f"Not a URL: {url!r}") from exc
    return parts.scheme, (parts.hostname or "").lower(), port


def _same_origin(url: str, origin: tuple) -> str:
    if _origin(url) != origin or origin[0] not in ("http", "https"):
        raise PublicationError(f"{url} is outside the publication's own address; not fetched.")
    return url


def _fetch(url: str, origin: tuple, deadline: float) -> bytes:
    """One file of the publication: same scheme, host and port as the publication's address
    (redirects too), at most MAX_DOWNLOAD_BYTES, within the import's time."""
    for _ in range(MAX_REDIRECTS + 1):
        _same_origin(url, origin)
        with requests.get(url, timeout=(5, 15), stream=True, allow_redirects=False) as answer:
            if answer.is_redirect:
                url = urljoin(url, answer.headers.get("Location", ""))
                continue
            answer.raise_for_status()
            chunks, size = [], 0
            for chunk in answer.iter_content(65536):
                size += len(chunk)
                if size > MAX_DOWNLOAD_BYTES:
                    raise PublicationError("The publication is larger than 20 MB.")
                if time.monotonic() > deadline:
                    raise PublicationError("The publication took too long to fetch.")
                chunks.append(chunk)
            return b"".join(chunks)
    raise PublicationError(f"Too many redirects from {url}.")


def _download(url: str, origin: tuple, deadline: float, target: Path) -> Path:
    try:
        target.write_bytes(_fetch(url, origin, deadline))
    except requests.RequestException as exc:
        raise PublicationError(f"Could not fetch {url}: {exc}") from exc
    return target


def _fetch_resources(url: str, descriptor: dict, origin: tuple, deadline: float, into: Path):
    """Each file the package names, fetched from the package's own address and named locally;
    the descriptor is rewritten to the local names."""
    resources = descriptor.get("resources")
    if not isinstance(resources, list):
        raise PublicationError("The data package lists no resources.")
    used = {"datapackage.json", *(p.name for p in into.iterdir())}
    for n, resource in enumerate(r for r in resources if isinstance(r, dict)):
        for key in ("path", "schema", "dialect"):
            ref = resource.get(key)
            if isinstance(ref, list):
                raise PublicationError("A resource split over several files is not taken.")
            if not isinstance(ref, str):
                continue
            # Its own file name where that is plain and free (a resource without a name is
            # known by it, services.csv), else one made here.
            local = Path(urlsplit(ref).path).name
            if not PLAIN_NAME.fullmatch(local) or local in used:
                local = f"{key}-{n}{Path(urlsplit(ref).path).suffix[:8]}"
            used.add(local)
            _download(urljoin(url, ref), origin, deadline, into / local)
            resource[key] = local


def read_url(url: str) -> Publication:
    origin = _origin(url)
    deadline = time.monotonic() + FETCH_SECONDS
    with tempfile.TemporaryDirectory() as folder:
        name = Path(urlsplit(url).path).name or "publication.json"
        fetched = _download(url, origin, deadline, Path(folder) / name)
        if zipfile.is_zipfile(fetched):
            return read_file(fetched)
        data = _load_json(fetched)
        if isinstance(data, dict) and "resources" in data:
            _fetch_resources(url, data, origin, deadline, Path(folder))
            descriptor = Path(folder) / "datapackage.json"
            descriptor.write_text(json.dumps(data))
            return read_package(descriptor)
        return read_json(data)


def read_publication(where: str) -> Publication:
    if where.startswith(("http://", "https://")):
        return read_url(where)
    path = Path(where)
    if not path.exists():
        raise PublicationError(f"No file or folder at {where}")
    return read_file(path)


# ---- HSDS tables -> directory services ------------------------------------------------------


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _index(rows: Iterable[dict], key: str) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row.get(key):
            found[str(row[key])].append(row)
    return found


def _address(
    location_ids: list[str], addresses: dict[str, list[dict]], locations: dict[str, dict]
) -> str:
    for location_id in location_ids:
        for address in addresses.get(location_id, []):
            if address.get("address_type", "physical") in ("physical", "", None):
                parts = [address.get("address_1"), address.get("city")]
                return ", ".join(str(p) for p in parts if p)
    # A physical location published without a postal address (ours are: see _service_object)
    # is found by its name.
    for location_id in location_ids:
        location = locations.get(location_id) or {}
        if location.get("location_type") == "physical" and location.get("name"):
            return str(location["name"]).strip()
    return ""


def _last_modified(value: Any) -> datetime.datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


class _Links:
    """The publication's tables, indexed by the ids that link them."""

    def __init__(self, tables: dict[str, list[dict]]) -> None:
        self.organizations = {str(o.get("id")): o for o in tables.get("organization", [])}
        self.phones_by_service = _index(tables.get("phone", []), "service_id")
        self.phones_by_org = _index(tables.get("phone", []), "organization_id")
        self.phones_by_location = _index(tables.get("phone", []), "location_id")
        self.at_by_service = _index(tables.get("service_at_location", []), "service_id")
        self.addresses = _index(tables.get("address", []), "location_id")
        self.locations = {str(loc.get("id")): loc for loc in tables.get("location", [])}
        self.schedules_by_service = _index(tables.get("schedule", []), "service_id")
        self.schedules_by_at = _index(tables.get("schedule", []), "service_at_location_id")
        self.capacity_by_service = _index(tables.get("service_capacity", []), "service_id")
        self.units = {str(u.get("id")): u for u in tables.get("unit", [])}
        self.attributes = _index(tables.get("attribute", []), "link_id")
        self.terms = {str(t.get("id")): t for t in tables.get("taxonomy_term", [])}

    def phone(self, service_id: str, org_id: str, location_ids: list[str]) -> str:
        candidates = [
            *self.phones_by_service.get(service_id, []),
            *(p for lid in location_ids for p in self.phones_by_location.get(lid, [])),
            *self.phones_by_org.get(org_id, []),
        ]
        for phone in candidates:
            if phone.get("number"):
                extension = f" x{phone['extension']}" if phone.get("extension") else ""
                return f"{phone['number']}{extension}"
        return ""

    def schedules(self, service_id: str) -> list[dict]:
        rows = list(self.schedules_by_service.get(service_id, []))
        for at in self.at_by_service.get(service_id, []):
            rows.extend(self.schedules_by_at.get(str(at.get("id")), []))
        return [
            {k: _text(row[k]) for k in SCHEDULE_FIELDS if row.get(k) not in (None, "")}
            for row in rows
        ]

    def capacity(self, service_id: str) -> list[dict]:
        items = []
        for row in self.capacity_by_service.get(service_id, []):
            unit = self.units.get(str(row.get("unit_id")), {})
            items.append(
                {
                    "available": row.get("available"),
                    "maximum": row.get("maximum"),
                    "unit": unit.get("name") or row.get("unit_name") or "",
                    "updated": _text(row.get("updated")),
                    "description": row.get("description", ""),
                }
            )
        return items

    def category(self, service_id: str) -> str:
        for attribute in self.attributes.get(service_id, []):
            term = self.terms.get(str(attribute.get("taxonomy_term_id")), {})
            code = term.get("code") or term.get("name")
            if code:
                return str(code)
        return ""


def _refusal(service: dict, reason: str) -> dict[str, Any]:
    return {"table": "service", "id": str(service.get("id", "")), "name": service.get("name", ""),
            "reason": reason}  # fmt: skip


def _check_service(service: dict, links: _Links, seen: set[str]) -> str:
    """Why HSDS itself refuses this service row, or ""."""
    sid = service.get("id")
    if not sid or not _is_uuid(sid):
        return f"The service id {sid!r} is not a UUID."
    if str(sid) in seen:
        return "The service id appears twice in the publication."
    if not str(service.get("name") or "").strip():
        return "The service has no name."
    if str(service.get("organization_id")) not in links.organizations:
        return f"The organization {service.get('organization_id')!r} is not in the publication."
    if service.get("status") not in STATUSES:
        return f"The status {service.get('status')!r} is not one of HSDS's: " + ", ".join(
            sorted(STATUSES)
        )
    return ""


def directory_services(publication: Publication) -> tuple[list[dict], list[dict]]:
    """The directory's services from the publication, and the rows refused with reasons."""
    links = _Links(publication.tables)
    refused = list(publication.refused)
    services, seen = [], set()
    for service in publication.tables.get("service", []):
        reason = _check_service(service, links, seen)
        if reason:
            refused.append(_refusal(service, reason))
            continue
        sid = str(service["id"])
        seen.add(sid)
        organization = links.organizations[str(service["organization_id"])]
        location_ids = [str(at.get("location_id")) for at in links.at_by_service.get(sid, [])]
        schedules = links.schedules(sid)
        services.append(
            {
                "hsds_id": sid,
                "name": str(service["name"]).strip(),
                "organization": str(organization.get("name") or "").strip(),
                "organization_hsds_id": str(organization.get("id")),
                "category": links.category(sid),
                "description": str(service.get("description") or "").strip(),
                "phone": links.phone(sid, str(organization.get("id")), location_ids),
                "address": _address(location_ids, links.addresses, links.locations),
                "hours": next((s["description"] for s in schedules if s.get("description")), "")[
                    :120
                ],
                "email": str(service.get("email") or "").strip(),
                "url": str(service.get("url") or "").strip(),
                "status": service["status"],
                "source_updated_at": _last_modified(service.get("last_modified")),
                "schedules": schedules,
                "capacity": links.capacity(sid),
            }
        )
    return services, refused


@dataclass
class ImportReport:
    source: str
    added: list[dict]
    changed: list[dict]
    deactivated: list[dict]
    refused: list[dict]

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.changed or self.deactivated)

    def lines(self) -> list[str]:
        out = [
            f"{self.source}: {len(self.added)} added, {len(self.changed)} changed, "
            f"{len(self.deactivated)} deactivated, {len(self.refused)} refused"
        ]
        out += [f"  added {item['name']} ({item['id']})" for item in self.added]
        out += [
            f"  changed {item['name']} ({item['id']}): {', '.join(item['fields'])}"
            for item in self.changed
        ]
        out += [f"  deactivated {item['name']} ({item['id']})" for item in self.deactivated]
        out += [
            f"  refused {item.get('table', 'service')} {item.get('id') or '(no id)'}"
            f"{' row ' + str(item['row']) if item.get('row') else ''}: {item['reason']}"
            for item in self.refused
        ]
        return out


class NeedsConfirmation(PublicationError):
    """The import would take a large share of the directory out of use; nothing was changed."""

    def __init__(self, lost: int, offered: int) -> None:
        super().__init__(
            f"This publication would take {lost} of the {offered} services offered to "
            "responders out of use. Nothing was changed; confirm to import it anyway."
        )
        self.lost, self.offered = lost, offered


def _offered() -> set:
    return set(DirectoryService.objects.filter(active=True).values_list("pk", flat=True))


def import_publication(
    actor: Any,
    publication: Publication,
    source: str,
    *,
    publish: bool = True,
    confirmed: bool = False,
) -> ImportReport:
    """Import it, unless it would take more than `CONFIRM_SHARE` of the services offered out of
    use and that was not confirmed: then nothing changes (NeedsConfirmation)."""
    services, refused = directory_services(publication)
    with transaction.atomic():
        before = _offered()
        result = import_directory(actor=actor, source=source, services=services, publish=publish)
        lost = len(before - _offered())
        if not confirmed and lost > CONFIRM_SHARE * len(before):
            # Leaving the block by an exception undoes the import, its audit row and events.
            raise NeedsConfirmation(lost, len(before))
    return ImportReport(
        source=source,
        added=result["added"],
        changed=result["changed"],
        deactivated=result["deactivated"],
        refused=refused + result["refused"],
    )


def import_hsds(
    actor: Any, where: str, source: str | None = None, *, confirmed: bool = False
) -> ImportReport:
    """Read the publication at a path or URL and bring the directory in line with it."""
    return import_publication(actor, read_publication(where), source or where, confirmed=confirmed)


# ---- publishing the directory as HSDS -------------------------------------------------------


def _derived_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "care-field:" + ":".join(parts)))


def _service_object(service: DirectoryService) -> dict[str, Any]:
    sid = service.hsds_id or str(service.pk)
    org_id = service.organization_hsds_id or _derived_id("organization", service.organization)
    status = service.status
    if status == DirectoryStatus.ACTIVE and not service.active:
        status = DirectoryStatus.INACTIVE  # taken out of use here, or gone from its source
    body: dict[str, Any] = {
        "id": sid,
        "name": service.name,
        "description": service.description,
        "status": status,
        "organization": {"id": org_id, "name": service.organization, "description": ""},
        "phones": [{"id": _derived_id("phone", sid), "number": service.phone}]
        if service.phone
        else [],
        "schedules": [
            {"id": _derived_id("schedule", sid, str(n)), **schedule}
            for n, schedule in enumerate(service.schedules or [])
        ],
        "capacities": [
            {
                "id": _derived_id("capacity", sid, str(n)),
                "available": item.get("available"),
                "maximum": item.get("maximum"),
                "description": item.get("description", ""),
                "updated": item.get("updated"),
                "unit": {
                    "id": _derived_id("unit", str(item.get("unit"))),
                    "name": item.get("unit"),
                },
            }
            for n, item in enumerate(service.capacity or [])
        ],
        "attributes": [],
        "service_at_locations": [],
    }
    if service.url:
        body["url"] = service.url
    if service.email:
        body["email"] = service.email
    if service.source_updated_at:
        body["last_modified"] = service.source_updated_at.isoformat()
    if service.category:
        term_id = _derived_id("term", service.category)
        body["attributes"].append(
            {
                "id": _derived_id("attribute", sid),
                "link_id": sid,
                "link_type": "service",
                "link_entity": "service",
                "taxonomy_term": {
                    "id": term_id,
                    "code": service.category,
                    "name": service.category,
                    "description": f"Directory category: {service.category}",
                },
            }
        )
    if service.address:
        # HSDS's postal address requires city, state, postal code and country, which a line of
        # address text does not hold apart: the line is published as the location's name.
        body["service_at_locations"].append(
            {
                "id": _derived_id("service_at_location", sid),
                "location": {
                    "id": _derived_id("location", sid),
                    "location_type": "physical",
                    "name": service.address,
                },
            }
        )
    return body


def publish_directory(services: Iterable[DirectoryService]) -> dict[str, Any]:
    """The directory as an HSDS 3.0 service list (the API's paginated form, one page)."""
    contents = [_service_object(service) for service in services]
    return {
        "total_items": len(contents),
        "total_pages": 1,
        "page_number": 1,
        "size": len(contents),
        "first_page": True,
        "last_page": True,
        "empty": not contents,
        "contents": contents,
    }


def load_demo_directory(path: Path, source: str) -> int:
    """The reference data's directory: an HSDS publication in fixtures/, through the importer."""
    report = import_publication(None, read_file(path), source, publish=False)
    if report.refused:
        raise PublicationError("; ".join(item["reason"] for item in report.refused))
    return len(report.added) + len(report.changed)
