"""Running the HTTP service under uvicorn (uvloop event loop, httptools parser)."""

from __future__ import annotations

import ipaddress
import logging
import os
from typing import Any

import uvicorn
from pydantic import SecretStr

from service.api import create_app
from service.logs import configure_logging
from service.settings import Settings

log = logging.getLogger(__name__)

ENV_PREFIX = "PARCEL_SCREEN_"


class UnsafeBindError(ValueError):
    """Binding a reachable address without API keys would open the API to the network."""


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        # A host name other than localhost may resolve anywhere; treat it as reachable.
        return False


def check_bind(settings: Settings, host: str) -> None:
    """Refuse a non-loopback address when no API keys are configured."""
    if settings.auth_enabled:
        # Reading the key files here makes a bad file fail at startup, not on the first call.
        settings.api_key_digests()
        return
    if not is_loopback(host):
        raise UnsafeBindError(
            f"refusing to serve on {host}: no API keys are configured, so anyone who can reach "
            "the address could use the API. Set PARCEL_SCREEN_API_KEYS or "
            "PARCEL_SCREEN_API_KEYS_FILE, or bind to 127.0.0.1"
        )
    log.warning(
        "no API keys configured: serving on loopback only, and every local process can call "
        "the API; set PARCEL_SCREEN_API_KEYS or PARCEL_SCREEN_API_KEYS_FILE to require keys",
        extra={"host": host},
    )


def _env_value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_env_value(part) for part in value)
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def settings_environment(settings: Settings) -> dict[str, str | None]:
    """The environment that rebuilds `settings` in another process (None: unset it)."""
    environment: dict[str, str | None] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        key = f"{ENV_PREFIX}{name.upper()}"
        environment[key] = None if value is None else _env_value(value)
    return environment


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the API until interrupted; raises `UnsafeBindError` before binding anything."""
    configure_logging(settings.log_format, settings.log_level)
    check_bind(settings, host)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        # The request middleware writes the access log, with request ids and route names.
        "access_log": False,
        # Keep the logging configured above instead of uvicorn's own.
        "log_config": None,
        "server_header": False,
        # In-flight requests (and the audit flush in the lifespan) get this long on SIGTERM.
        "timeout_graceful_shutdown": 30,
    }
    log.info(
        "starting parcel-screen",
        extra={"host": host, "port": port, "workers": workers, "models_dir": settings.models_dir},
    )
    if workers <= 1:
        uvicorn.run(create_app(settings), **options)
        return
    # Worker processes build their app from the environment, so hand the settings over
    # that way. uvicorn's supervisor restarts the workers on SIGHUP, which reloads the
    # model in each.
    for key, value in settings_environment(settings).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    uvicorn.run("service.api.app:create_app_from_env", factory=True, workers=workers, **options)
