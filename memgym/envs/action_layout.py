"""The flat action layout of the structured env: one row ``(op, slot or index, tier)`` per
action, with the lookups the env, its mask and the scripted agents use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: ``(op, slot or index, tier index)``; -1 where the op takes no slot / tier.
ActionRow = tuple[str, int, int]
#: What an action row does; its index is the row's code in ``action_codes`` (compiled code);
#: a recipe's own op is -1.
ACTION_OPS: tuple[str, ...] = ("noop", "add", "update", "delete", "evict", "invalidate",
                               "route", "reread", "reread_similar", "answer")


def layout_rows(ops: Sequence[str], tier_names: Sequence[str], n_slots: int,
                archive_view: int, retrieval_names: Sequence[str]
                ) -> tuple[list[str], list[ActionRow]]:
    """Names and rows of every action the enabled ``ops`` give, in the documented order."""
    names: list[str] = []
    rows: list[ActionRow] = []

    def emit(name: str, op: str, arg: int = -1, tier: int = -1) -> None:
        names.append(name)
        rows.append((op, arg, tier))

    emit("noop", "noop")
    if "add" in ops:
        for t, tier in enumerate(tier_names):
            emit(f"add->{tier}", "add", tier=t)
    for op in ("update", "delete", "evict", "invalidate"):
        if op in ops:
            for k in range(n_slots):
                emit(f"{op} slot {k}", op, k)
    if "route" in ops and len(tier_names) > 1:
        for k in range(n_slots):
            for t, tier in enumerate(tier_names):
                emit(f"route slot {k}->{tier}", "route", k, t)
    if "reread" in ops:
        for j in range(archive_view):
            emit(f"reread archive {j}", "reread", j)
        emit("reread similar", "reread_similar")
    for r, name in enumerate(retrieval_names):
        emit(f"answer via {name}", "answer", r)
    return names, rows


def set_action_layout(env: Any, names: list[str], rows: list[ActionRow]) -> None:
    """Give ``env`` the layout: ``action_names``, ``action_table``, per-row ``action_ops`` /
    ``action_args`` / ``action_tiers`` / ``action_codes`` arrays, ``_op_index`` (op -> rows) and
    ``action_index`` (row -> action, for agents that act by name)."""
    env.action_names = list(names)
    env.action_table = list(rows)
    env.action_ops = np.array([row[0] for row in rows])
    # a recipe's own op (not in ACTION_OPS) is -1: invalid in the base mask, its mask sets it
    env.action_codes = np.array([ACTION_OPS.index(row[0]) if row[0] in ACTION_OPS else -1
                                 for row in rows], dtype=np.int64)
    env.action_args = np.array([row[1] for row in rows])
    env.action_tiers = np.array([row[2] for row in rows])
    env._op_index = {op: np.flatnonzero(env.action_ops == op) for op in set(env.action_ops)}
    env.action_index = {row: i for i, row in enumerate(rows)}
