"""Receipts through the scan API: counts on opening, an item reported lost, and undoing it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.custody.models import FindingRow, ItemStateRow
from app.extensions import db
from tests.custody.conftest import Env


def _answer(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    (result,) = response.get_json()["results"]
    return result


def test_an_item_reported_lost_is_a_critical_finding_until_the_report_is_cancelled(
    env: Env,
) -> None:
    bundle = next(i for i in env.items[env.tps] if i.item_type_code == "SURAT")
    env.post([env.event(bundle, "terima", "62.10", quantity=bundle.quantity)])
    lost = env.event(bundle, "hilang", "62.10")
    result = _answer(env.post([lost], sent_at=env.clock[0].isoformat()))
    assert result["status"] == "accepted"
    assert [(f["code"], f["severity"], f["principle"]) for f in result["findings"]] == [
        ("reported_lost", "critical", "jumlah")
    ]
    with env.app.app_context():
        assert db.session.get(ItemStateRow, bundle.serial).stage == "hilang"
    undo = env.event(bundle, "batal", "62.10", ref_event_id=lost["event_id"])
    assert _answer(env.post([undo]))["status"] == "accepted"
    with env.app.app_context():
        finding = db.session.scalar(select(FindingRow).where(FindingRow.code == "reported_lost"))
        assert finding.status == "resolved" and finding.resolved_by == undo["event_id"]
        assert db.session.get(ItemStateRow, bundle.serial).stage != "hilang"


def test_counts_must_name_an_item_type_and_race_with_a_whole_number(env: Env) -> None:
    kit = env.first(env.tps, "KIT")
    for counts in ({"SURAT|XYZ": 1}, {"SURAT|GUB": -1}, {"SURAT|GUB": "banyak"}, [1, 2]):
        result = _answer(env.post([env.event(kit, "terima", "62.10", counts=counts)]))
        assert result["status"] == "rejected" and result["code"] == "malformed", counts
        assert "counts" in result["message"]
