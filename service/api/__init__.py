"""The HTTP API: `create_app()` builds it, routers are split by concern."""

from service.api.app import create_app

__all__ = ["create_app"]
