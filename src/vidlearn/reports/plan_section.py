"""The plan of a self-configured run (plan.json, from `vidlearn.planning`) as a report section."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vidlearn.reports.html import Section, table_html, text_html

__all__ = ["plan_section"]


def plan_section(plan: Mapping[str, Any]) -> Section:
    """A "Plan" section: the family, protocol, budget and prediction, then one row per choice with
    its reason (choices the user made say "you:")."""
    rows = [(c["field"], _value(c["value"]), ("you: " if c.get("source") == "you" else "") + str(c["reason"]))
            for c in plan.get("choices", [])]
    head = f"family {plan.get('family')}, protocol {plan.get('cv') or 'one held-out split'}, budget {float(plan.get('budget_s') or 0):.0f} s"
    if plan.get("predicted_s") is not None:
        head += f", predicted wall time {float(plan['predicted_s']):.0f} s"
    notes = "".join(text_html(f"note: {n}") for n in plan.get("notes", []))
    return Section("plan", "Plan", text_html(head) + notes + table_html(["choice", "value", "reason"], rows))


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_value(v)}" for k, v in value.items())
    return str(value)
