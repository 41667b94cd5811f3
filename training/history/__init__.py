"""What the past says about the parties of a parcel: the history facts the model reads.

A parcel's history is counted from the parcels its sender and recipient took part in
*before* it (by `posted_at`, ties broken by declaration id, so arrival order never
matters), the inspection outcomes on them and the watch list. The parcel being scored
never counts in its own history, so scoring the same declaration twice gives the same
answer.

The facts are deliberately model-independent: earlier parcels, counterparties, weight
sent down the same lane, confirmed and cleared outcomes, earlier parcels whose description
named gear outright (`training.gear_words`: a fact of the form, not a score), the watch
list. Earlier
*decisions* are not a fact the model reads (the store keeps them for officers): a model
fed its own past decisions amplifies its own mistakes, and a CSV export has none.

The store (service side) hands over `PartyParcel` records and `WatchEntry` rows; the batch
command builds the same records from the file itself. One definition, counted three ways,
each pinned to the others by the tests: `history_facts` (vectorised: a file, a training
set), `parcel_history` (plain Python over one parcel's records) and `PartySummary` (a
party's records summed up once, for the many parcels of a busy shipper). So HTTP and batch
give the same score for the same history.

Where each part lives (callers import from `training.history`):

- `records.py`: the records (`PartyParcel`, `WatchEntry`) and the parcel frame they make;
- `facts.py`: the facts by name, and the model's features read off them;
- `counting.py`: `history_facts`, the vectorised count;
- `table.py`: facts beside item rows (`HistoryTable` by declaration id, `with_history`);
- `one_parcel.py`: one parcel's facts (`parcel_history`, `PartySummary`);
- `messages.py`: what an officer is told (`history_message`, `watchlist_message`).
"""

from training.history.counting import history_facts
from training.history.facts import (
    COUNT_FACTS,
    HISTORY_FACTS,
    HISTORY_FEATURES,
    HISTORY_PREFIXES,
    PRIOR_FACTS,
    PRIOR_SCORE_FEATURES,
    RECENT_DAYS,
    RECIPIENT_FACTS,
    SENDER_FACTS,
    TEXT_FACTS,
    WATCH_FACTS,
)
from training.history.messages import history_message, prior_message, watchlist_message
from training.history.one_parcel import PartySummary, parcel_history, summarised_history
from training.history.records import (
    FIRST_PASS_COLUMN,
    NAMED_COLUMN,
    OUTCOME_COLUMNS,
    PARCEL_COLUMNS,
    ROLES,
    Outcome,
    PartyParcel,
    Role,
    WatchEntry,
    parcels_of,
    records_frame,
)
from training.history.table import HistoryTable, with_history

__all__ = [
    "COUNT_FACTS",
    "FIRST_PASS_COLUMN",
    "HISTORY_FACTS",
    "HISTORY_FEATURES",
    "HISTORY_PREFIXES",
    "NAMED_COLUMN",
    "OUTCOME_COLUMNS",
    "PARCEL_COLUMNS",
    "PRIOR_FACTS",
    "PRIOR_SCORE_FEATURES",
    "RECENT_DAYS",
    "RECIPIENT_FACTS",
    "ROLES",
    "SENDER_FACTS",
    "TEXT_FACTS",
    "WATCH_FACTS",
    "HistoryTable",
    "Outcome",
    "PartyParcel",
    "PartySummary",
    "Role",
    "WatchEntry",
    "history_facts",
    "history_message",
    "parcel_history",
    "parcels_of",
    "prior_message",
    "records_frame",
    "summarised_history",
    "watchlist_message",
    "with_history",
]
