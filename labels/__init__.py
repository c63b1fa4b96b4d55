"""Tepat labels: signed QR payloads, QR matrices, layouts and PDF writers.

No Flask here: the app and the scanner both import this package, and the payload
format lives only in ``labels.payload``.
"""

from __future__ import annotations

from labels.base45 import b45decode, b45encode
from labels.documents import (
    ITEM_KINDS,
    RACE_MARKERS,
    CustodyParty,
    HandoverForm,
    HandoverLine,
    ItemKind,
    KitLine,
    KitManifest,
    LabelSheetItem,
    RaceMarker,
    format_local_time,
)
from labels.errors import (
    BadSignature,
    LabelError,
    LayoutError,
    MalformedKeySet,
    MalformedPayload,
    RetiredKey,
    UnknownKey,
    UnsupportedVersion,
)
from labels.forms import write_handover_form, write_kit_manifest
from labels.keys import Keyring, KeyStatus, PublicKeyEntry, Signer, SigningKey
from labels.layouts import (
    A4_DOCUMENT,
    A4_STICKER,
    LAYOUTS,
    DocumentLayout,
    Field,
    FontSpec,
    LabelLayout,
    THERMAL_100x50,
    THERMAL_100x150,
)
from labels.payload import (
    DestinationKind,
    LabelPayload,
    SignedLabel,
    decode,
    destination_kind,
    encode,
    encode_url,
    format_serial,
    from_bytes,
    is_serial,
    link_base,
    new_serial,
    parse_serial,
    parse_unverified,
    sign,
)
from labels.pdf import write_labels
from labels.qr import QrMatrix, draw_qr, qr_matrix

__all__ = [
    "A4_DOCUMENT",
    "A4_STICKER",
    "BadSignature",
    "CustodyParty",
    "DestinationKind",
    "DocumentLayout",
    "Field",
    "FontSpec",
    "HandoverForm",
    "HandoverLine",
    "ITEM_KINDS",
    "ItemKind",
    "KeyStatus",
    "Keyring",
    "KitLine",
    "KitManifest",
    "LAYOUTS",
    "LabelError",
    "LabelLayout",
    "LabelPayload",
    "LabelSheetItem",
    "LayoutError",
    "MalformedKeySet",
    "MalformedPayload",
    "PublicKeyEntry",
    "QrMatrix",
    "RACE_MARKERS",
    "RaceMarker",
    "RetiredKey",
    "SignedLabel",
    "Signer",
    "SigningKey",
    "THERMAL_100x150",
    "THERMAL_100x50",
    "UnknownKey",
    "UnsupportedVersion",
    "b45decode",
    "b45encode",
    "decode",
    "destination_kind",
    "draw_qr",
    "encode",
    "encode_url",
    "format_local_time",
    "format_serial",
    "from_bytes",
    "is_serial",
    "link_base",
    "new_serial",
    "parse_serial",
    "parse_unverified",
    "qr_matrix",
    "sign",
    "write_handover_form",
    "write_kit_manifest",
    "write_labels",
]
