"""The history facts of a parcel, by name: what is counted for its sender, its recipient and
the watch list, the words kept for reasons, and the model's features read off the facts.
"""

from __future__ import annotations

from typing import Final

# Counterparties and lane weight are counted over this many days before a parcel.
RECENT_DAYS: Final = 30


# The facts of a parcel's history, as columns beside its item rows. Counts are of parcels
# posted before it (within what the store or the file holds).
SENDER_FACTS: Final = (
    "sender_parcels_before",  # parcels the sender sent
    "sender_recipients",  # distinct recipients of those
    "sender_recipients_30d",  # distinct recipients of those in the last RECENT_DAYS
    "sender_lane_kg_30d",  # gross kg the sender sent to this destination, last RECENT_DAYS
    "sender_confirmed",  # the sender's parcels on which gear was confirmed
    "sender_cleared",  # ... and which inspection cleared
    "sender_named_gear",  # the sender's parcels whose description named gear
    "sender_prior_score",  # the highest first-pass score of the sender's parcels
)
RECIPIENT_FACTS: Final = (
    "recipient_parcels_before",
    "recipient_senders",  # distinct senders to the recipient
    "recipient_senders_30d",  # distinct senders to the recipient in the last RECENT_DAYS
    "recipient_confirmed",
    "recipient_cleared",
    "recipient_named_gear",
    "recipient_prior_score",
)
WATCH_FACTS: Final = ("sender_watchlisted", "recipient_watchlisted")
COUNT_FACTS: Final = (*SENDER_FACTS, *RECIPIENT_FACTS, *WATCH_FACTS)
# For the wording of reasons only: the latest confirmed seizure (ISO date) and why a party
# is on the watch list.
TEXT_FACTS: Final = (
    "sender_last_confirmed",
    "recipient_last_confirmed",
    "sender_watch_reason",
    "recipient_watch_reason",
    "sender_last_named_gear",
    "recipient_last_named_gear",
    "sender_prior_parcel",  # the declaration id of the parcel behind sender_prior_score
    "recipient_prior_parcel",
)
HISTORY_FACTS: Final = (*COUNT_FACTS, *TEXT_FACTS)

# The model's features of history (training.features.FormFeatures): name -> (fact, scale).
# The prefixes name the reason a feature gives (sender_history, recipient_history,
# watchlist). Counts are read on a log scale: the tenth parcel says less than the second;
# flags and scores as they are (0 to 1).
HISTORY_FEATURES: Final[dict[str, tuple[str, str]]] = {
    "sender_history_parcels": ("sender_parcels_before", "log"),
    "sender_history_recipients": ("sender_recipients", "log"),
    "sender_history_recipients_30d": ("sender_recipients_30d", "log"),
    "sender_history_lane_kg_30d": ("sender_lane_kg_30d", "log"),
    "sender_history_confirmed": ("sender_confirmed", "log"),
    "sender_history_cleared": ("sender_cleared", "log"),
    "sender_history_named_gear": ("sender_named_gear", "log"),
    "recipient_history_parcels": ("recipient_parcels_before", "log"),
    "recipient_history_senders": ("recipient_senders", "log"),
    "recipient_history_senders_30d": ("recipient_senders_30d", "log"),
    "recipient_history_confirmed": ("recipient_confirmed", "log"),
    "recipient_history_cleared": ("recipient_cleared", "log"),
    "recipient_history_named_gear": ("recipient_named_gear", "log"),
    "sender_history_prior_score": ("sender_prior_score", "score"),
    "recipient_history_prior_score": ("recipient_prior_score", "score"),
    "watchlist_sender": ("sender_watchlisted", "flag"),
    "watchlist_recipient": ("recipient_watchlisted", "flag"),
}

# The features of the parties' earlier parcels' scores. A parcel's "first-pass" score is the
# model's score of it without these two (its own form and the parties' counts): what an
# officer sees reading the party's earlier forms. The score a parcel finally gets never
# feeds the parcels after it, so one high score cannot raise a chain of later ones.
PRIOR_SCORE_FEATURES: Final = ("sender_history_prior_score", "recipient_history_prior_score")
PRIOR_FACTS: Final = ("sender_prior_score", "recipient_prior_score")

HISTORY_PREFIXES: Final = ("sender_history_", "recipient_history_", "watchlist_")
