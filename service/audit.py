"""Superseded by the `service.store` package (audit, feedback, party history, watch list on
SQLite or PostgreSQL); the old names stay importable from here."""

from service.store.audit import AuditLog
from service.store.engine import StoreUnavailableError as AuditUnavailableError
from service.store.export import EXPORT_COLUMNS, export_feedback
from service.store.records import ScoredCsv, ScoredRecord, Scoring, utc_now

__all__ = [
    "EXPORT_COLUMNS",
    "AuditLog",
    "AuditUnavailableError",
    "ScoredCsv",
    "ScoredRecord",
    "Scoring",
    "export_feedback",
    "utc_now",
]
