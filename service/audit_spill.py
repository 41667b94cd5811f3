"""Superseded by `service.store.spill`; kept so existing imports keep working."""

from service.store.spill import Spill

__all__ = ["Spill"]
