"""Plan use cases: load regions, import TPS lists, compute needs, build routes, export.

Split by concern, one module per kind of work: ``regions``, ``item_types`` (the quantity
rules as data), ``costs`` (leg budgets and costs), ``elections`` (and their races),
``tps_import``, ``routes`` (custody nodes, legs and the return schedule), ``planning``
(needs and plan lines) and ``summaries`` (needs tables and their export). Callers import
from here: ``from app.plan import service`` / ``from app.plan.service import X``.
"""

from __future__ import annotations

from app.plan.service.costs import (
    LegMoney,
    leg_costs,
    leg_costs_many,
    leg_money,
    record_cost,
    set_budget,
)
from app.plan.service.elections import (
    RACE_LEVEL,
    RACE_TITLE,
    add_race,
    create_election,
    ensure_election,
    get_election,
    latest_election,
    list_elections,
    races_at,
)
from app.plan.service.item_types import ensure_item_types, item_type_names, load_rules
from app.plan.service.planning import edit_rule, plan_lines, rebuild_plan, tps_facts
from app.plan.service.regions import load_regions, region_names
from app.plan.service.routes import (
    NODE_PREFIX,
    RETURN_DEFAULTS,
    build_legs,
    build_nodes,
    gudang_ppk_deadline,
    return_schedule,
    return_schedules,
    set_return_deadline,
)
from app.plan.service.summaries import LEVELS, NeedsTable, export_needs, needs_table
from app.plan.service.tps_import import ImportResult, TpsRow, import_tps, parse_tps_rows, read_table

__all__ = [
    "ImportResult",
    "LEVELS",
    "LegMoney",
    "NODE_PREFIX",
    "NeedsTable",
    "RACE_LEVEL",
    "RACE_TITLE",
    "RETURN_DEFAULTS",
    "TpsRow",
    "add_race",
    "build_legs",
    "build_nodes",
    "create_election",
    "edit_rule",
    "ensure_election",
    "ensure_item_types",
    "export_needs",
    "get_election",
    "gudang_ppk_deadline",
    "import_tps",
    "item_type_names",
    "latest_election",
    "leg_costs",
    "leg_costs_many",
    "leg_money",
    "list_elections",
    "load_regions",
    "load_rules",
    "needs_table",
    "parse_tps_rows",
    "plan_lines",
    "races_at",
    "read_table",
    "rebuild_plan",
    "record_cost",
    "region_names",
    "return_schedule",
    "return_schedules",
    "set_budget",
    "set_return_deadline",
    "tps_facts",
]
