"""Where a PIDF-LO document (RFC 4119 / RFC 5491, as NENA's EIDO carries it) says a call is.

A geodetic `gml:Point` gives its `gml:pos` ("lat lon"); a `gs:Circle` its centre (the radius is
the caller's uncertainty, not another place). A `civicAddress` (RFC 5139) becomes address text:
house number and its suffix, the street with its prefix, type and suffix, then the city (A3).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

GML = "http://www.opengis.net/gml"
GEOSHAPE = "http://www.opengis.net/pidflo/1.0"
CIVIC = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"

# No entities, no network, no huge trees: the document comes from outside.
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True, load_dtd=False
)


class PidfError(ValueError):
    """The text is not a PIDF-LO document we can read."""


@dataclass(frozen=True)
class Where:
    latitude: float | None = None
    longitude: float | None = None
    address: str = ""

    @property
    def has_point(self) -> bool:
        return self.latitude is not None and self.longitude is not None


def parse_pidf(text: str) -> Where:
    try:
        root = etree.fromstring(text.encode("utf-8"), _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise PidfError(f"not well-formed XML ({exc})") from exc
    latitude = longitude = None
    point = root.find(f".//{{{GML}}}Point/{{{GML}}}pos")
    if point is None:
        point = root.find(f".//{{{GEOSHAPE}}}Circle/{{{GML}}}pos")
    if point is not None:
        latitude, longitude = _position(point.text or "")
    civic = root.find(f".//{{{CIVIC}}}civicAddress")
    address = _civic_text(civic) if civic is not None else ""
    return Where(latitude=latitude, longitude=longitude, address=address)


def _position(text: str) -> tuple[float, float]:
    parts = text.split()
    if len(parts) < 2:
        raise PidfError("gml:pos needs 'latitude longitude'")
    try:
        latitude, longitude = float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise PidfError("gml:pos is not two numbers") from exc
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise PidfError("gml:pos is not a place on Earth (latitude first, then longitude)")
    return latitude, longitude


def _civic_text(civic) -> str:
    def part(name: str) -> str:
        found = civic.find(f"{{{CIVIC}}}{name}")
        return " ".join((found.text or "").split()) if found is not None else ""

    number = "".join(p for p in (part("HNO"), part("HNS")) if p)
    street = " ".join(p for p in (part("PRD"), part("RD"), part("STS"), part("POD")) if p)
    line = " ".join(p for p in (number, street) if p)
    unit = part("UNIT")
    if unit:
        line = f"{line} #{unit}" if line else f"#{unit}"
    city = part("A3")
    return ", ".join(p for p in (line, city) if p)
