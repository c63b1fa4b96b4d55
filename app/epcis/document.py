"""Custody events as GS1 EPCIS 2.0 JSON-LD events. Pure: rows in, dictionaries out.

The mapping (documented for integrators in docs/EPCIS.md):

========== ================== ========== ============== ==================
scan       EPCIS event        action     bizStep        disposition
========== ================== ========== ============== ==================
kemas      AggregationEvent   ADD        packing        in_progress
keluarkan  AggregationEvent   DELETE     unpacking      in_progress
kirim      ObjectEvent        OBSERVE    shipping       in_transit
kembali    ObjectEvent        OBSERVE    shipping       returned
terima     ObjectEvent        OBSERVE    receiving      in_progress
buka       ObjectEvent        OBSERVE    unpacking      container_open
segel      ObjectEvent        OBSERVE    packing        container_closed
rusak      ObjectEvent        OBSERVE    inspecting     damaged
hilang     ObjectEvent        OBSERVE    inspecting     unavailable
========== ================== ========== ============== ==================

A ``batal`` (undo) re-states the scan it undoes with an ``errorDeclaration`` (reason
``did_not_occur``); a ``koreksi`` does the same with reason ``incorrect_data`` and names
itself in ``correctiveEventIDs``, and is exported as the corrected observation. Items
and places get URIs of our own under the configured base URL; quantities, conditions and
seal numbers go in ``tepat:`` extension fields. No person, account or device is exported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.timeutil import zone_for_region

GS1_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
SCHEMA_VERSION = "2.0"

#: scan action -> (event type, EPCIS action, bizStep, disposition)
MAPPING: dict[str, tuple[str, str, str, str]] = {
    "kemas": ("AggregationEvent", "ADD", "packing", "in_progress"),
    "keluarkan": ("AggregationEvent", "DELETE", "unpacking", "in_progress"),
    "kirim": ("ObjectEvent", "OBSERVE", "shipping", "in_transit"),
    "kembali": ("ObjectEvent", "OBSERVE", "shipping", "returned"),
    "terima": ("ObjectEvent", "OBSERVE", "receiving", "in_progress"),
    "buka": ("ObjectEvent", "OBSERVE", "unpacking", "container_open"),
    "segel": ("ObjectEvent", "OBSERVE", "packing", "container_closed"),
    "rusak": ("ObjectEvent", "OBSERVE", "inspecting", "damaged"),
    "hilang": ("ObjectEvent", "OBSERVE", "inspecting", "unavailable"),
}
#: What an action not in MAPPING (added later) becomes: an observation, bizStep other.
FALLBACK = ("ObjectEvent", "OBSERVE", "other", "unknown")
ERROR_ACTIONS = {"batal": "did_not_occur", "koreksi": "incorrect_data"}
DAMAGED = {"rusak_ringan", "rusak_berat", "basah"}


@dataclass(frozen=True)
class Row:
    """One stored custody event, as much as EPCIS needs of it."""

    event_id: str
    serial: str
    action: str
    node: str
    target: str | None
    device_time: datetime
    server_time: datetime
    quantity: int | None
    condition: str | None
    seals: tuple[str, ...]
    container: str | None
    ref_event_id: str | None
    item_type: str
    race: str


@dataclass(frozen=True)
class Uris:
    """Our URI scheme under the configured base URL (see docs/EPCIS.md)."""

    base: str

    def item(self, serial: str) -> str:
        """An item (one labelled unit): ``{base}/epc/barang/{serial}``."""
        return f"{self.base}/epc/barang/{serial}"

    def place(self, node: str) -> str:
        """A custody node (gudang, PPK, PPS, TPS): ``{base}/epc/lokasi/{code}``."""
        return f"{self.base}/epc/lokasi/{node}"

    @property
    def namespace(self) -> str:
        """The JSON-LD namespace of the ``tepat:`` extension fields."""
        return f"{self.base}/epcis/ns#"


def context(uris: Uris) -> list[Any]:
    """The document's @context: GS1's, plus our extension prefix."""
    return [GS1_CONTEXT, {"tepat": uris.namespace}]


def _time(moment: datetime, node: str) -> tuple[str, str]:
    """An instant in the node's zone (WIB/WITA/WIT) and its offset, as EPCIS wants."""
    local = moment.astimezone(ZoneInfo(zone_for_region(node)))
    offset = local.strftime("%z")
    return local.isoformat(timespec="milliseconds"), f"{offset[:3]}:{offset[3:]}"


def observation(row: Row, uris: Uris) -> dict[str, Any]:
    """One scan as an EPCIS ObjectEvent or AggregationEvent (without error declaration)."""
    kind, action, biz_step, disposition = MAPPING.get(row.action, FALLBACK)
    if row.action == "koreksi":
        kind, action, biz_step, disposition = "ObjectEvent", "OBSERVE", "inspecting", "in_progress"
    if row.condition in DAMAGED:
        disposition = "damaged"
    when, offset = _time(row.device_time, row.node)
    event: dict[str, Any] = {
        "type": kind,
        "eventTime": when,
        "eventTimeZoneOffset": offset,
        "recordTime": _time(row.server_time, row.node)[0],
        "eventID": f"urn:uuid:{row.event_id}",
        "action": action,
    }
    if kind == "AggregationEvent":
        if row.container:
            event["parentID"] = uris.item(row.container)
        event["childEPCs"] = [uris.item(row.serial)]
    else:
        event["epcList"] = [uris.item(row.serial)]
    event.update(
        {
            "bizStep": biz_step,
            "disposition": disposition,
            "readPoint": {"id": uris.place(row.node)},
        }
    )
    if biz_step == "shipping":
        event["sourceList"] = [{"type": "location", "source": uris.place(row.node)}]
        if row.target:
            event["destinationList"] = [{"type": "location", "destination": uris.place(row.target)}]
    else:
        event["bizLocation"] = {"id": uris.place(row.node)}
    extensions: dict[str, Any] = {
        "tepat:action": row.action,
        "tepat:itemType": row.item_type,
    }
    if row.race:
        extensions["tepat:race"] = row.race
    if row.quantity is not None:
        extensions["tepat:quantity"] = row.quantity
    if row.condition:
        extensions["tepat:condition"] = row.condition
    if row.seals:
        extensions["tepat:seals"] = list(row.seals)
    if row.ref_event_id:
        extensions["tepat:refersTo"] = f"urn:uuid:{row.ref_event_id}"
    event.update(extensions)
    return event


def events(rows: Iterable[Row], referenced: Mapping[str, Row], uris: Uris) -> list[dict[str, Any]]:
    """EPCIS events for a page of scans; ``referenced`` holds the scans undone or corrected."""
    out: list[dict[str, Any]] = []
    for row in rows:
        reason = ERROR_ACTIONS.get(row.action)
        if reason is None:
            out.append(observation(row, uris))
            continue
        original = referenced.get(row.ref_event_id or "")
        if original is not None:
            declared = observation(original, uris)
            declaration: dict[str, Any] = {
                "declarationTime": _time(row.server_time, row.node)[0],
                "reason": reason,
            }
            if row.action == "koreksi":
                declaration["correctiveEventIDs"] = [f"urn:uuid:{row.event_id}"]
            declared["errorDeclaration"] = declaration
            declared["tepat:declaredBy"] = f"urn:uuid:{row.event_id}"
            out.append(declared)
        if row.action == "koreksi":
            out.append(observation(row, uris))
    return out


def master_data(places: Mapping[str, str], uris: Uris) -> dict[str, Any]:
    """The names of the places used, as EPCIS location master data."""
    return {
        "epcisMasterData": {
            "vocabularyList": [
                {
                    "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
                    "vocabularyElementList": [
                        {
                            "id": uris.place(code),
                            "attributes": [{"id": "urn:epcglobal:cbv:mda#name", "attribute": name}],
                        }
                        for code, name in sorted(places.items())
                    ],
                }
            ]
        }
    }


def document(
    event_list: list[dict[str, Any]],
    uris: Uris,
    created: datetime,
    places: Mapping[str, str],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An EPCISDocument around a list of events."""
    body: dict[str, Any] = {
        "@context": context(uris),
        "type": "EPCISDocument",
        "schemaVersion": SCHEMA_VERSION,
        "creationDate": created.isoformat(timespec="milliseconds"),
    }
    if places:
        body["epcisHeader"] = master_data(places, uris)
    body.update(extra or {})
    body["epcisBody"] = {"eventList": event_list}
    return body
