"""Human names for node and region codes, so findings speak the courier's language.

The pure rules name places by code ("Barang untuk TPS 6210031005003, bukan TPS
6210031005001"); people know them by name ("Kotak suara bupati ini untuk TPS 003
Kelurahan Tewah, bukan TPS 001"). ``PlaceNames`` rewrites a finding's message with
the names stored in the region table, once per request or batch (names are cached).
A code without a stored name stays as it is, so a message never loses information.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.custody import rules
from app.custody.chunks import starting_with
from app.items.models import Item
from app.plan import codes
from app.plan.models import ItemType, Region

RACE_WORDS = {"GUB": "gubernur", "BUP": "bupati", "WAL": "wali kota"}

_CODE = r"(\d{13}|\d{2}\.\d{2}(?:\.\d{2}(?:\.\d{4})?)?)(?!\d|\.\d)"
_PREFIXED = re.compile(r"\b(?:gudang|PPK|PPS|TPS) " + _CODE)
_REGION = re.compile(r"\bwilayah " + _CODE)
# Bare node codes: kecamatan depth or deeper only ("14.40" in a time is not a code).
_BARE = re.compile(
    r"(?<![\w.])(?<!PPK )(?<!PPS )(?<!TPS )(?<!gudang )"
    r"(\d{13}|\d{2}\.\d{2}\.\d{2}(?:\.\d{4})?)(?!\d|\.\d)"
)
_ROUTE = re.compile(r" \(((?:[\d.]+ -> )+[\d.]+)\)")
_RULE_TYPES = {t.value for t in rules.ItemType}


class PlaceNames:
    """Names of custody nodes and regions, read from the database once and cached."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._regions: dict[str, str] = {}
        self._loaded: set[str] = set()
        self._types: dict[str, str] | None = None
        self._other_types: tuple[re.Pattern[str] | None, dict[str, str]] | None = None

    def region_name(self, code: str) -> str | None:
        """The stored name of a region code (None if unknown)."""
        kab = code[:5]
        if kab not in self._loaded:
            self._loaded.add(kab)
            self._regions.update(
                self.session.execute(
                    select(Region.code, Region.name).where(
                        (Region.code == kab) | Region.code.like(kab + ".%")
                    )
                ).all()
            )
        if code not in self._regions and "." not in code:
            province = self.session.get(Region, code)
            self._regions[code] = province.name if province else ""
        return self._regions.get(code) or None

    def remember(self, names: dict[str, str]) -> None:
        """Names already read (a page's child regions): no read of their kabupaten's."""
        self._regions.update(names)

    def preload(self, kabupaten: Iterable[str]) -> None:
        """Read the region names of several kabupaten in one statement (a province's page)."""
        wanted = sorted({kab[:5] for kab in kabupaten} - self._loaded)
        if not wanted:
            return
        self._loaded.update(wanted)
        self._regions.update(
            self.session.execute(
                select(Region.code, Region.name).where(
                    Region.code.in_(wanted)
                    | or_(*(starting_with(Region.code, kab + ".") for kab in wanted))
                )
            ).all()
        )

    def desa(self, code: str) -> str:
        """'Desa Sare Rangan' or 'Kelurahan Tewah' (kelurahan codes start with 1)."""
        name = self.region_name(code)
        if name is None:
            return code
        return f"{'Kelurahan' if code.rsplit('.', 1)[-1].startswith('1') else 'Desa'} {name}"

    def node(self, code: str) -> str:
        """A node as people say it: 'TPS 003 Kelurahan Tewah', 'PPK Tewah', 'gudang KPU ...'."""
        try:
            kind = codes.node_kind(code)
        except ValueError:
            return code
        if codes.TPS_ID.match(code):
            return f"TPS {code[-3:]} {self.desa(codes.desa_of_tps(code))}"
        name = self.region_name(code)
        if kind.value == "pps":
            return f"PPS {self.desa(code)}" if name else f"PPS {code}"
        if kind.value == "ppk":
            return f"PPK {name}" if name else f"PPK {code}"
        return f"gudang KPU {name}" if name else f"gudang {code}"

    def short(self, code: str, near: str | None) -> str:
        """A TPS named by its number alone when ``near`` is in the same desa."""
        same_desa = near is not None and code[:10] == near[:10]
        if same_desa and codes.TPS_ID.match(code) and codes.TPS_ID.match(near or ""):
            return f"TPS {code[-3:]}"
        return self.node(code)

    def types(self) -> dict[str, str]:
        """Item type code -> its Indonesian name."""
        if self._types is None:
            rows = self.session.execute(select(ItemType.code, ItemType.name_id))
            self._types = dict(rows.all())
        return self._types

    def what(self, item: Any) -> str:
        """What an item (row or object) is, in words: 'Kotak suara bupati'."""
        if item is None:
            return "Barang"
        name = self.types().get(item.item_type_code, item.item_type_code.lower())
        race = RACE_WORDS.get(item.race_kind or "")
        return f"{name} {race}" if race else name

    def describe(self, item: Item) -> dict[str, Any]:
        """What a courier needs to hear about a scanned item."""
        return {
            "serial": item.serial,
            "what": self.what(item),
            "destination": item.destination,
            "destination_name": self.node(item.destination),
        }

    def text(self, message: str) -> str:
        """Replace the node and region codes in a message with their names."""
        message = _ROUTE.sub(
            lambda m: " (rute: " + " → ".join(self.node(c) for c in m.group(1).split(" -> ")) + ")",
            message,
        )
        message = _PREFIXED.sub(lambda m: self.node(m.group(1)), message)

        def region(match: re.Match[str]) -> str:
            name = self.region_name(match.group(1))
            return f"wilayah {name} ({match.group(1)})" if name else match.group(0)

        message = _REGION.sub(region, message)
        message = _BARE.sub(lambda m: self.node(m.group(1)), message)
        if self._other_types is None:
            # The rules name the item types they know; others appear as their lowercased code.
            names = {
                c.lower(): n[:1].lower() + n[1:]
                for c, n in self.types().items()
                if c not in _RULE_TYPES
            }
            pattern = (
                re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b") if names else None
            )
            self._other_types = (pattern, names)
        pattern, names = self._other_types
        if pattern is not None:
            message = pattern.sub(lambda m: names[m.group(1)], message)
        return message[:1].upper() + message[1:]  # "gudang KPU ..." opening a sentence

    def humanize(self, finding: rules.Finding, item: Item | None = None) -> rules.Finding:
        """The finding with a message in names; a wrong TPS says which TPS it is for."""
        if finding.code == rules.Code.WRONG_TPS and finding.node and finding.tps:
            message = (
                f"{self.what(item)} ini untuk {self.node(finding.tps)}, "
                f"bukan {self.short(finding.node, finding.tps)}"
            )
        else:
            message = self.text(finding.message)
        return replace(finding, message=message)
