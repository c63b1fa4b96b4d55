"""Custody nodes and route legs of a kabupaten, with their forward and return deadlines."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import ValidationFailed
from app.plan import codes
from app.plan.models import CustodyNode, Election, NodeKind, ReturnSchedule, RouteLeg, Tps
from app.plan.service.elections import get_election
from app.plan.service.regions import region_names
from app.timeutil import h_day, zone_for_region

NODE_PREFIX = {
    NodeKind.GUDANG: "Gudang KPU",
    NodeKind.PPK: "PPK",
    NodeKind.PPS: "PPS",
    NodeKind.KPPS: "KPPS",
}


def build_nodes(session: Session, kabkota: str) -> None:
    """Create the warehouse, one PPK per kecamatan, one PPS per desa, one KPPS per TPS."""
    names = region_names(session, kabkota)
    have = set(
        session.scalars(
            select(CustodyNode.code).where(
                (CustodyNode.code == kabkota)
                | CustodyNode.code.like(kabkota + ".%")
                | CustodyNode.code.like(kabkota.replace(".", "") + "%")
            )
        )
    )
    tps_ids = session.scalars(select(Tps.id).where(Tps.id.like(kabkota.replace(".", "") + "%")))
    wanted: list[tuple[str, str]] = [(kabkota, names.get(kabkota, kabkota))]
    wanted += [(c, n) for c, n in sorted(names.items()) if c != kabkota]
    wanted += [
        (t, f"TPS {int(t[-3:]):03d} {names.get(codes.desa_of_tps(t), '')}".strip())
        for t in sorted(tps_ids)
    ]
    for code, name in wanted:
        if code in have:
            continue
        kind = codes.node_kind(code)
        label = name if kind is NodeKind.KPPS else f"{NODE_PREFIX[kind]} {name}"
        session.add(
            CustodyNode(
                code=code,
                kind=kind,
                name=label,
                parent_code=codes.node_parent(code),
                region_code=codes.node_region(code),
            )
        )
        have.add(code)
    session.flush()


#: Forward deadlines: (day offset, local time) per leg kind; gudang->PPK depends on dispatch day.
_PPK_PPS = (-1, time(14, 0))
_PPS_KPPS = (-1, time(20, 0))
#: Return deadlines per sending level: the box reaches the PPS on election night (H),
#: the PPK on H+1, and the gudang after the kecamatan recapitulation (H+1..H+6).
RETURN_DEFAULTS = {
    NodeKind.KPPS: (0, time(23, 59)),
    NodeKind.PPS: (1, time(18, 0)),
    NodeKind.PPK: (7, time(18, 0)),
}


def return_schedule(
    session: Session, election_code: str, kabkota: str
) -> dict[NodeKind, tuple[int, time]]:
    """The return deadline per sending level of a kabupaten: the defaults, then its own rows."""
    return return_schedules(session, election_code, [kabkota])[kabkota]


def return_schedules(
    session: Session, election_code: str, kabupaten: Iterable[str]
) -> dict[str, dict[NodeKind, tuple[int, time]]]:
    """:func:`return_schedule` of several kabupaten in one read (a province's page)."""
    wanted = sorted(set(kabupaten))
    schedules = {kab: dict(RETURN_DEFAULTS) for kab in wanted}
    if not wanted:
        return schedules
    for row in session.scalars(
        select(ReturnSchedule).where(
            ReturnSchedule.election_code == election_code,
            ReturnSchedule.kabkota_code.in_(wanted),
        )
    ):
        schedules[row.kabkota_code][row.from_kind] = (row.day_offset, row.local_time)
    return schedules


def set_return_deadline(
    session: Session,
    election_code: str,
    kabkota: str,
    from_kind: str,
    day_offset: int,
    local_time: time,
) -> int:
    """Set when one level must have sent its boxes back (H+n, local time); move the legs.

    Returns how many return legs got the new deadline.
    """
    election = get_election(session, election_code)
    try:
        kind = NodeKind(from_kind)
    except ValueError:
        raise ValidationFailed("Tingkat harus kpps, pps atau ppk.") from None
    if kind is NodeKind.GUDANG:
        raise ValidationFailed("Gudang adalah tujuan akhir; tingkat harus kpps, pps atau ppk.")
    if not 0 <= day_offset <= 60:
        raise ValidationFailed("Hari pengembalian harus H+0 sampai H+60.")
    try:
        is_kabkota = codes.node_kind(kabkota) is NodeKind.GUDANG
    except ValueError:
        is_kabkota = False
    if not is_kabkota:
        raise ValidationFailed("Kode kabupaten/kota seperti 62.10.")
    row = session.get(ReturnSchedule, (election_code, kabkota, kind))
    if row is None:
        session.add(
            ReturnSchedule(
                election_code=election_code,
                kabkota_code=kabkota,
                from_kind=kind,
                day_offset=day_offset,
                local_time=local_time,
            )
        )
    else:
        row.day_offset, row.local_time = day_offset, local_time
    deadline = h_day(election.election_day, day_offset, local_time, zone_for_region(kabkota))
    # Batches counting waiting boxes by the old deadline finish first (custody counters).
    from app.custody import counts, waiting

    counts.bump_plan(session, kabkota)
    moves: list[waiting.Move] = []
    moved = 0
    for leg in session.scalars(
        select(RouteLeg).where(
            RouteLeg.election_code == election_code,
            RouteLeg.is_return.is_(True),
            RouteLeg.from_node.like(kabkota + ".%")
            | RouteLeg.from_node.like(kabkota.replace(".", "") + "%"),
        )
    ):
        if codes.within(leg.from_node, kabkota) and codes.node_kind(leg.from_node) is kind:
            moves.append((leg.from_node, leg.to_node, leg.deadline_at, deadline))
            leg.day_offset, leg.local_time, leg.deadline_at = day_offset, local_time, deadline
            moved += 1
    waiting.legs_moved(session, kabkota, moves)
    session.commit()
    return moved


def gudang_ppk_deadline(dispatch_day: int) -> tuple[int, time]:
    """Remote districts leave on H-2 or H-3 and must reach the PPK that evening."""
    return (dispatch_day, time(18, 0)) if dispatch_day <= -2 else (-1, time(10, 0))


def build_legs(
    session: Session, election: Election, kabkota: str, dispatch_days: dict[str, int] | None
) -> None:
    """Create forward and return legs for every edge of the kabupaten's node tree.

    With ``dispatch_days`` every leg's deadline is set; without, only new legs get the
    default deadlines and existing ones keep theirs (a re-import never moves H-2 to H-1).
    """
    zone = zone_for_region(kabkota)
    returns = return_schedule(session, election.code, kabkota)
    nodes = session.scalars(
        select(CustodyNode).where(
            (CustodyNode.code.like(kabkota + ".%"))
            | CustodyNode.code.like(kabkota.replace(".", "") + "%")
        )
    ).all()
    have = {
        (leg.from_node, leg.to_node): leg
        for leg in session.scalars(
            select(RouteLeg).where(
                RouteLeg.election_code == election.code,
                RouteLeg.from_node.in_([n.code for n in nodes] + [kabkota]),
            )
        )
    }
    have.update(
        {
            (leg.from_node, leg.to_node): leg
            for leg in session.scalars(
                select(RouteLeg).where(
                    RouteLeg.election_code == election.code,
                    RouteLeg.to_node.in_([n.code for n in nodes] + [kabkota]),
                )
            )
        }
    )
    moves: list[tuple[str, str, datetime, datetime]] = []
    for node in nodes:
        if node.parent_code is None:
            continue
        if node.kind is NodeKind.PPK:
            forward = gudang_ppk_deadline((dispatch_days or {}).get(node.code, -1))
        elif node.kind is NodeKind.PPS:
            forward = _PPK_PPS
        else:
            forward = _PPS_KPPS
        for src, dst, (offset, at), is_return in (
            (node.parent_code, node.code, forward, False),
            (node.code, node.parent_code, returns[node.kind], True),
        ):
            deadline = h_day(election.election_day, offset, at, zone)
            leg = have.get((src, dst))
            if leg is None:
                session.add(
                    RouteLeg(
                        election_code=election.code,
                        from_node=src,
                        to_node=dst,
                        day_offset=offset,
                        local_time=at,
                        deadline_at=deadline,
                        is_return=is_return,
                    )
                )
            elif dispatch_days is not None:
                if leg.deadline_at != deadline:
                    moves.append((src, dst, leg.deadline_at, deadline))
                leg.day_offset, leg.local_time, leg.deadline_at = offset, at, deadline
    session.flush()
    if moves:
        # What waits on a moved leg is counted by its new deadline (custody counters).
        from app.custody import counts, waiting

        counts.bump_plan(session, kabkota)
        waiting.legs_moved(session, kabkota, moves)
