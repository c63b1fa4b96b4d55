"""``keluarkan``: an item packed into the wrong kit is taken out again (issue 13, point 5)."""

from __future__ import annotations

import pytest

from app.custody.errors import NotAllowedInState
from app.custody.rules import Action, Book, ItemType
from tests.custody.test_rules import GUDANG, PPK, TPS_B, Log, item, make_plan


def packed_wrongly() -> tuple[Book, Log]:
    """TPS 003's ballots packed into TPS 001's kit at the gudang."""
    items = [
        item("KIT-A", ItemType.KIT, None),
        item("SS-A-GUB"),
        item("SS-B-GUB", destination=TPS_B),
    ]
    log = Log()
    for serial in ("KIT-A", "SS-A-GUB", "SS-B-GUB"):
        log(serial, Action.TERIMA, GUDANG)
    log("SS-A-GUB", Action.KEMAS, GUDANG, container="KIT-A")
    log("SS-B-GUB", Action.KEMAS, GUDANG, container="KIT-A")
    book = Book(make_plan(items, {}), items)
    for event in log.events:
        book.apply(event)
    return book, log


def test_a_wrong_item_taken_out_of_a_kit_stays_behind_when_the_kit_leaves() -> None:
    book, log = packed_wrongly()
    assert book.contents("KIT-A") == ("SS-A-GUB", "SS-B-GUB")
    out = book.apply(log("SS-B-GUB", Action.UNPACK, GUDANG))
    assert set(out.states) == {"SS-B-GUB"} and out.findings == ()
    assert book.states["SS-B-GUB"].container is None
    assert book.contents("KIT-A") == ("SS-A-GUB",)
    sent = book.apply(log("KIT-A", Action.KIRIM, GUDANG, target=PPK))
    assert set(sent.states) == {"KIT-A", "SS-A-GUB"}  # the wrong ballots stay at the gudang
    assert book.states["SS-B-GUB"].holder == GUDANG and book.states["SS-B-GUB"].transit_to is None


def test_taking_out_what_is_in_no_kit_is_refused() -> None:
    book, log = packed_wrongly()
    with pytest.raises(NotAllowedInState):
        book.apply(log("KIT-A", Action.UNPACK, GUDANG))


def test_batal_of_a_take_out_puts_the_item_back_in_the_kit() -> None:
    book, log = packed_wrongly()
    out = log("SS-B-GUB", Action.UNPACK, GUDANG)
    book.apply(out)
    book.apply(log("SS-B-GUB", Action.VOID, GUDANG, ref_event_id=out.event_id))
    assert book.contents("KIT-A") == ("SS-A-GUB", "SS-B-GUB")
