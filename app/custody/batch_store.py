"""How the Ingestor records a batch: each scan through the rules, then every row at once."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from app.auth.models import DeviceToken
from app.custody import codec, counts, ledger, resolve, rules
from app.custody.device_checks import DeviceChecks, clamp_int32
from app.custody.findings import finding_dict, finding_values
from app.custody.intake import LABEL_ACTIONS, Rejected, ScanInput, ScanResult
from app.custody.models import CustodyEvent, EventKey, FindingRow, ItemStateRow, TpsTallyRow
from app.items.models import Item
from app.plan import codes
from app.plan.models import CustodyNode


class BatchStore(DeviceChecks):
    """Mixin of :class:`app.custody.service.Ingestor`: apply each scan, then write the batch."""

    token: DeviceToken | None
    _last_time: datetime | None
    _events: list[dict[str, Any]]
    _dirty: dict[str, tuple[rules.ItemState, datetime, Item, str]]
    _heads: dict[str, bytes]
    _state_rows: dict[str, Any]
    _before: dict[str, rules.ItemState]
    _plans: dict[str, rules.Plan]
    _deltas: counts.Deltas

    def _server_time(self) -> datetime:
        """Strictly increasing server times, so order by time is the order of receipt."""
        moment = self.now()
        if self._last_time is not None and moment <= self._last_time:
            moment = self._last_time + timedelta(microseconds=1)
        self._last_time = moment
        return moment

    def _write(self) -> None:
        """Write the batch: events and findings by executemany, each item's latest state once."""
        session = self.session
        self._count()
        inserts, updates = [], []
        for serial, (state, server_time, item, _kab) in self._dirty.items():
            values = {
                "serial": serial,
                "holder": state.holder,
                "transit_to": state.transit_to,
                "stage": codec.stage_of(state),
                "condition": state.condition.value,
                "container": state.container,
                "last_event_at": server_time,
                "state": codec.state_to_dict(state),
                "item_seq": state.seq,
                "province": codes.province_of(item.kabkota_code),
            }
            if serial in self._heads:
                values["last_hash"] = self._heads[serial]
            if serial in self._state_rows:
                updates.append(values)
            else:
                values.update(
                    kabkota_code=item.kabkota_code,
                    destination=item.destination,
                    last_hash=self._heads.get(serial),
                )
                inserts.append(values)
                self._state_rows[serial] = values  # type: ignore[assignment]
        if inserts:
            session.execute(ItemStateRow.__table__.insert(), inserts)
        # Bulk UPDATE by the table's key (serial, province: one partition per row on
        # PostgreSQL), grouped by the columns each row sets.
        for with_hash in (True, False):
            group = [v for v in updates if ("last_hash" in v) is with_hash]
            if group:
                session.execute(_state_update(group[0]), [_keyed(v) for v in group])
        if self._events:
            # The id first: unique across provinces (a racing batch with the same id waits
            # here, then fails and is retried as a duplicate or a conflict).
            session.execute(
                EventKey.__table__.insert(),
                [{"event_id": e["event_id"], "province": e["province"]} for e in self._events],
            )
            session.execute(CustodyEvent.__table__.insert(), self._events)
        if self._findings:
            session.execute(FindingRow.__table__.insert(), self._findings)
        self._events, self._findings, self._dirty = [], [], {}

    def _count(self) -> None:
        """Keep the region counters current: each changed item's state before and after,
        receipts per hour and new findings (written last, the only rows every batch of a
        region shares, so they are locked only for the commit)."""
        deltas = counts.Deltas()
        for serial, (state, _time, item, kab) in self._dirty.items():
            deltas.item(item, self._before.get(serial), state, self._plans[kab])
        for event in self._events:
            deltas.add(event["node"], counts.identified_metrics(event.get("identified_by")))
            if event["action"] == rules.Action.TERIMA.value:
                deltas.add(
                    event["node"], counts.receipt_metrics(event["node"], event["server_time"])
                )
        for values in self._findings:
            deltas.finding(values)
        self._deltas = deltas

    def _one(
        self,
        kab: str,
        scan: ScanInput,
        serial: str,
        container: str | None,
        items: dict[str, Item],
        nodes: dict[str, CustodyNode],
        book: rules.Book,
        state_rows: dict[str, ItemStateRow],
        tally_rows: dict[str, TpsTallyRow],
    ) -> ScanResult:
        session = self.session
        item = items.get(serial)
        if item is None:
            self._refused(scan, "unknown_label")
            raise Rejected("unknown_label", "Label ini tidak pernah diterbitkan oleh KPU.")
        if item.voided_at is not None and scan.action not in LABEL_ACTIONS:
            self._security_finding(
                scan.node,
                "voided_label_scanned",
                rules.Severity.WARNING,
                f"Label yang sudah dibatalkan dipindai di {self.names.node(scan.node)} "
                f"oleh perangkat {self.device_id}.",
                event_ids=(scan.event_id,),
                serial=serial,
            )
            raise Rejected("voided_label", "Label ini sudah dibatalkan dan tidak berlaku.")
        self._check_link_base(scan, serial)
        if container is not None and container not in items:
            raise Rejected("unknown_label", "Label wadah (kit/kotak) tidak dikenal.")
        if container is not None and items[container].voided_at is not None:
            raise Rejected(
                "voided_label", "Label wadah (kit/kotak) ini sudah dibatalkan; pakai penggantinya."
            )
        if scan.node not in nodes:
            raise Rejected("unknown_node", f"Simpul {scan.node} tidak ada dalam rencana.")
        if not codes.within(scan.node, self.user.scope_code):
            raise Rejected(
                "out_of_scope", f"{self.names.node(scan.node)} di luar wilayah tugas Anda."
            )
        if (
            scan.target is not None
            and scan.target not in nodes
            and not _node_exists(session, scan.target)
        ):
            raise Rejected("unknown_node", f"Tujuan {scan.target} tidak ada dalam rencana.")
        state_before = book.states[serial]
        server_time = self._server_time()
        event = rules.Event(
            event_id=scan.event_id,
            serial=serial,
            action=rules.Action(scan.action),
            node=scan.node,
            device_time=scan.device_time,
            server_time=server_time,
            user_id=str(self.user.id),
            device_id=self.device_id,
            seq=state_before.seq + 1,
            quantity=scan.quantity,
            condition=rules.Condition(scan.condition) if scan.condition else None,
            seals=scan.seals,
            counterpart=scan.counterpart,
            container=container,
            target=scan.target,
            ref_event_id=scan.ref_event_id,
            counts=scan.counts,
            clock_offset=self.clock.offset,
            clock_verified=self.clock.offset is not None,
            identified_by=scan.identified_by,
        )
        update = book.apply(event)
        row = state_rows.get(serial)
        head = self._heads.get(serial)
        if head is not None:
            prev_hash = head
        else:
            prev_hash = row.last_hash if row is not None and row.last_hash else rules.GENESIS_HASH
        self._events.append(
            dict(
                event_id=uuid.UUID(scan.event_id),
                serial=serial,
                item_seq=event.seq,
                action=scan.action,
                node=scan.node,
                target=scan.target,
                device_time=scan.device_time,
                server_time=server_time,
                skew_seconds=clamp_int32(
                    (
                        self.clock.offset
                        if self.clock.offset is not None
                        else scan.device_time - server_time
                    ).total_seconds()
                ),
                user_id=self.user.id,
                token_id=self.token.id if self.token else None,
                device_id=self.device_id,
                device_seq=scan.device_seq,
                quantity=scan.quantity,
                condition=scan.condition,
                seals=list(scan.seals),
                counterpart=scan.counterpart,
                container=container,
                ref_event_id=scan.ref_event_id,
                counts=dict(scan.counts) or None,
                identified_by=scan.identified_by,
                clock_offset_s=(
                    clamp_int32(self.clock.offset.total_seconds())
                    if self.clock.offset is not None
                    else None
                ),
                note=scan.note,
                kabkota_code=kab,
                province=codes.province_of(items[serial].kabkota_code),
                content_digest=scan.digest,
                prev_hash=prev_hash,
            )
        )
        # The digest covers every stored column (ledger.stored_fields), new ones too.
        signed = self._signatures.get(scan.event_id)
        self._events[-1]["signature"], self._events[-1]["signed_body"] = signed or (None, None)
        values = ledger.complete_event(self._events[-1])
        digest = values["hash"] = ledger.event_hash(prev_hash, event.seq, values)
        # The batch keeps only each item's latest state; rows are written once at the end.
        for changed_serial, state in update.states.items():
            self._dirty[changed_serial] = (state, server_time, items[changed_serial], kab)
        self._heads[serial] = digest
        for tps, tally in update.tallies.items():
            tally_row = tally_rows.get(tps)
            if tally_row is None:
                tally_row = TpsTallyRow(tps=tps, kabkota_code=kab, tally={})
                session.add(tally_row)
                tally_rows[tps] = tally_row
            tally_row.tally = codec.tally_to_dict(tally)
            tally_row.updated_at = server_time
        # People read these: name the places ("TPS 003 Kelurahan Tewah"), not their codes.
        findings = [self.names.humanize(f, items.get(f.serial or "")) for f in update.findings]
        if event.action in (rules.Action.VOID, rules.Action.CORRECT):
            # Findings are state: the undone or corrected scan's findings are resolved.
            resolve.resolve_referenced(
                session, event, {serial, *update.states}, self._findings, server_time
            )
        self._findings.extend(finding_values(finding, kab) for finding in findings)
        return ScanResult(
            scan.event_id,
            "accepted",
            "ok",
            "Diterima.",
            [finding_dict(f) for f in findings],
            serial=serial,
        )


_STATE = ItemStateRow.__table__


def _state_update(values: dict[str, Any]) -> Any:
    """``UPDATE item_state SET <the columns of values> WHERE serial = … AND province = …``."""
    keys = ("serial", "province")
    return (
        update(_STATE)
        .where(_STATE.c.serial == bindparam("key_serial"))
        .where(_STATE.c.province == bindparam("key_province"))
        .values({name: bindparam(name) for name in values if name not in keys})
    )


def _keyed(values: dict[str, Any]) -> dict[str, Any]:
    """A row's values with its key under the names :func:`_state_update` binds."""
    rest = {k: v for k, v in values.items() if k not in ("serial", "province")}
    return {**rest, "key_serial": values["serial"], "key_province": values["province"]}


def _node_exists(session: Session, code: str) -> bool:
    return session.get(CustodyNode, code) is not None
