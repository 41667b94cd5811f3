"""The store's commands: `feedback export`, `audit export`, `watchlist`, `history`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

if TYPE_CHECKING:
    pass
from service.cli.apps import audit_app, err, feedback_app, history_app, out, watchlist_app
from service.cli.common import (
    AuditDb,
    cli_user,
    export_source,
    fail,
    moment,
    open_store,
    say,
    store_call,
)


@feedback_app.command("export")
def feedback_export(
    output: Annotated[Path, typer.Option("-o", "--output", help="Labelled CSV file to write.")],
    audit_db: AuditDb = None,
) -> None:
    """Write every inspected item (confirmed: label 1, cleared: label 0) as labelled CSV.

    The file goes straight to `parcel-screen train --data FILE` (usually with --synthetic N,
    since feedback alone is rarely enough to train on). Reads the store that
    PARCEL_SCREEN_DATABASE_URL names (or --audit-db, a SQLite file).
    """
    from service.store.engine import StoreUnavailableError
    from service.store.export import export_feedback

    try:
        written = export_feedback(export_source(audit_db), output)
    except (OSError, ValueError, StoreUnavailableError) as exc:
        raise fail(str(exc)) from exc
    say(f"exported {written:,} labelled rows to {output}")
    if written == 0:
        err.print("no inspection outcomes yet: `train --data` will refuse this file", markup=False)


@audit_app.command("export")
def audit_export(
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV file to write.")],
    since: Annotated[
        str | None, typer.Option(help="Only declarations scored on/after this date (ISO).")
    ] = None,
    audit_db: AuditDb = None,
) -> None:
    """Write the latest scoring of each declaration as CSV: the contract's columns plus
    scored_at, decision and model_version. What `drift` reads as current traffic."""
    from service.store.export import export_scored

    rows = store_call(lambda: export_scored(export_source(audit_db), output, since))
    say(f"exported {rows:,} scored items to {output}")


@watchlist_app.command("add")
def watchlist_add(
    party_id: Annotated[str, typer.Argument(help="The party's id, as declarations carry it.")],
    role: Annotated[str, typer.Option(help="sender or recipient")],
    reason: Annotated[str, typer.Option(help="Why the party is watched.")],
    expires: Annotated[
        str | None,
        typer.Option(help="Last day the entry applies (YYYY-MM-DD, UTC); default: until removed."),
    ] = None,
) -> None:
    """Put a party on the watch list (or update its entry for that role)."""
    store = open_store()
    entry, created = store_call(
        lambda: store.watch(party_id, role.strip().lower(), reason, expires, by=cli_user())
    )
    until = f" until {moment(entry.expires_at)}" if entry.expires_at else ""
    say(f"{'added' if created else 'updated'}: {entry.party_id} as {entry.role}{until}")


@watchlist_app.command("remove")
def watchlist_remove(
    party_id: Annotated[str, typer.Argument(help="The party's id.")],
) -> None:
    """Take a party off the watch list (every role)."""
    store = open_store()
    removed = store_call(lambda: store.unwatch(party_id, by=cli_user()))
    if not removed:
        raise fail(f"{party_id} is not on the watch list", code=1)
    say(f"removed: {party_id} as {', '.join(entry.role for entry in removed)}")


@watchlist_app.command("list")
def watchlist_list() -> None:
    """Every entry of the watch list (expired ones marked)."""
    store = open_store()
    entries = store_call(store.watch_list)
    now = datetime.now(UTC).replace(tzinfo=None)
    table = Table(title=f"watch list ({len(entries)} entries)")
    for name in ("party", "role", "reason", "listed by", "listed at", "expires", "active"):
        table.add_column(name)
    for entry in entries:
        table.add_row(
            entry.party_id,
            entry.role,
            entry.reason,
            entry.listed_by,
            moment(entry.listed_at),
            moment(entry.expires_at),
            "yes" if entry.active_at(now) else "expired",
        )
    out.print(table)


@watchlist_app.command("import")
def watchlist_import(
    file: Annotated[Path, typer.Argument(help="CSV with columns party_id, role, reason, expires.")],
) -> None:
    """Add or update every entry of a CSV file. A file with any bad row changes nothing:
    every bad row is reported with its row number and field."""
    store = open_store()
    count = store_call(lambda: store.import_watch_list(file, by=cli_user()))
    say(f"imported {count:,} entries from {file}")


@history_app.command("show")
def history_show(party_id: Annotated[str, typer.Argument(help="The party's id.")]) -> None:
    """A party's parcels within the retention window: as sender and recipient, decisions,
    inspection outcomes, counterparties, watch-list entries."""
    store = open_store()
    summary = store_call(lambda: store.party_history(party_id))
    say(
        f"{summary.party_id}: {len(summary.parcels)} parcels ({summary.as_sender} as sender, "
        f"{summary.as_recipient} as recipient) in the last {store.retention_days} days"
    )
    say(f"sent to review: {summary.review}, to inspection: {summary.inspect}")
    say(
        f"outcomes: {summary.confirmed} confirmed (latest {moment(summary.latest_confirmed_at)}), "
        f"{summary.cleared} cleared (latest {moment(summary.latest_cleared_at)})"
    )
    say(f"distinct counterparties: {summary.counterparties}")
    named = sum(parcel.names_gear for parcel in summary.parcels)
    say(f"parcels that named gear: {named}")
    if summary.watch:
        now = datetime.now(UTC).replace(tzinfo=None)
        for entry in summary.watch:
            state = "active" if entry.active_at(now) else "expired"
            say(
                f"watch list: {entry.role}, {entry.reason} (by {entry.listed_by}, "
                f"{moment(entry.listed_at)}, expires {moment(entry.expires_at)}, {state})"
            )
    else:
        say("watch list: not listed")
    if summary.parcels:
        table = Table(title="parcels (newest first, at most 20)")
        columns = ("declaration", "posted", "sender", "recipient", "to", "named gear", "own score")
        for name in (*columns, "decision", "outcome"):
            table.add_column(name)
        for parcel in sorted(summary.parcels, key=lambda p: p.posted_at, reverse=True)[:20]:
            table.add_row(
                parcel.declaration_id,
                moment(parcel.posted_at),
                parcel.sender_id or "-",
                parcel.recipient_id or "-",
                parcel.destination_country or "-",
                "yes" if parcel.names_gear else "-",
                "-" if parcel.first_pass_score is None else f"{parcel.first_pass_score:.2f}",
                parcel.decision or "-",
                parcel.outcome or "-",
            )
        out.print(table)


@history_app.command("forget")
def history_forget(
    party_id: Annotated[str, typer.Argument(help="The party's id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove everything the store keeps about a party: its id in the parcels index and in
    the stored inputs of its declarations, its watch-list entries and its id in the
    watch-list log. Parcels past the retention window are purged at the same time."""
    if not yes and not typer.confirm(f"forget every trace of {party_id}?"):
        raise fail("nothing forgotten", code=1)
    store = open_store()
    done = store_call(lambda: store.forget(party_id, by=cli_user()))
    say(
        f"forgot {done.party_id}: its id taken out of {done.parcels} parcels "
        f"({done.parcels_removed} removed, no party left on them), "
        f"of {done.scorings_scrubbed} stored scorings, and {done.watch_entries} watch-list "
        "entries removed"
    )
