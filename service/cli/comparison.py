"""How a newly trained model compares with the one in service: recorded in its card after
training, printed as a table, and what promoting it would take."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from service.cli.apps import err, out
from service.cli.common import active_or_none, number, say
from training.registry import Registry, RegistryError

# Held-out rows below which training warns that recall at 1-2% false alarms means little.
SMALL_HOLDOUT_BENIGN = 200
SMALL_HOLDOUT_GEAR = 30


def record_comparison(registry: Registry, result: Any) -> None:
    """Compare the candidate with the active model of `registry` (its card records it)."""
    from training.pipeline import compare_with_active

    active_version = active_or_none(registry)
    active_model = None
    load_error = None
    if active_version is not None:
        try:
            active_model = registry.load(active_version).model
        except RegistryError as exc:
            load_error = str(exc)
            err.print(f"cannot compare with the active model {active_version}: {exc}", markup=False)
    compare_with_active(result, active_model, active_version, load_error)


def comparison_table(version: str, comparison: dict[str, Any]) -> Table:
    from training.gate import COMPARED_METRICS, DEFAULT_METRIC, LOWER_IS_BETTER, change_column

    active_version = comparison.get("active_version")
    table = Table(
        title=f"candidate {version} vs active {active_version}, on the candidate's "
        f"{comparison.get('rows', '?')} held-out rows ({comparison.get('positives', '?')} gear)"
    )
    table.add_column("metric")
    table.add_column(f"candidate {version}", justify="right")
    table.add_column(f"active {active_version}", justify="right")
    table.add_column("change", justify="right")
    candidate, active = comparison.get("candidate", {}), comparison.get("active") or {}
    for metric in COMPARED_METRICS:
        if metric not in candidate:
            continue
        note = " (lower is better)" if metric in LOWER_IS_BETTER else ""
        note += " (promotion gate)" if metric == DEFAULT_METRIC else ""
        table.add_row(
            metric + note,
            number(candidate.get(metric)),
            number(active.get(metric)),
            change_column(candidate.get(metric), active.get(metric)),
        )
    return table


def print_comparison(
    version: str, card: dict[str, Any], previous_active: str | None, activated: bool
) -> None:
    """After training: rows skipped, the comparison with the active model, what to do next."""
    from training.gate import judge

    skipped = card.get("training_data", {}).get("skipped") or {}
    if skipped:
        parts = ", ".join(f"{count:,} ({why})" for why, count in skipped.items())
        say(f"rows skipped, not trained on: {parts}")
    else:
        say("rows skipped: none")
    holdout_rows = int(card.get("training_data", {}).get("holdout_rows", 0))
    positives = int(card.get("comparison", {}).get("positives", 0))
    # Below ~100 benign items, 1-2% of them is one item or none: those recalls mean nothing.
    if holdout_rows - positives < SMALL_HOLDOUT_BENIGN or positives < SMALL_HOLDOUT_GEAR:
        say(
            f"warning: only {holdout_rows:,} held-out rows ({positives:,} gear): too few to "
            "measure recall at 1-2% false alarms; add rows (e.g. --synthetic 5000)"
        )
    comparison = card.get("comparison") or {}
    if comparison.get("active") is None:
        say("no active model to compare with (none is active yet)")
        return
    out.print(comparison_table(version, comparison))
    if activated:
        say(f"{version} was activated at once (--activate); it replaced {previous_active}.")
        return
    decision = judge(version, card, previous_active)
    if decision.allowed:
        say(f"candidate is at least as good ({decision.message}).")
        say(f"to put it in service: parcel-screen models promote {version}")
    else:
        say(decision.message.replace("refused: ", "`models promote` would refuse it: "))
