"""The store: audit trail, inspection outcomes, party history and the watch list, on
SQLite (default) or PostgreSQL, through SQLAlchemy Core with Alembic migrations.

- `engine`: which database, connections, lock waits; `migrate` + `migrations/`: the schema.
- `tables`: the tables. `records`: what scoring hands over and the rows it becomes.
- `audit`: the writer thread (queue, batches, spill file `spill`, retention purge).
- `feedback`: outcomes. `parcels`: party history records. `watchlist`: the watch list.
- `history`: one party summed up, and forgetting one. `cache`: the per-party cache.
- `export`: labelled outcomes and scored traffic as CSV for training.
- `store`: `Store`, the object the service and the CLI hold.
"""

from service.store.audit import AuditLog
from service.store.engine import Database, StoreUnavailableError, StoreUrlError
from service.store.records import ScoredCsv, ScoredRecord, Scoring
from service.store.store import Store

__all__ = [
    "AuditLog",
    "Database",
    "ScoredCsv",
    "ScoredRecord",
    "Scoring",
    "Store",
    "StoreUnavailableError",
    "StoreUrlError",
]
