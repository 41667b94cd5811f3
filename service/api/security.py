"""API keys: who may call /v1, and who may call /v1/admin.

Keys are known only by their SHA-256 digests, so a key from `PARCEL_SCREEN_API_KEYS` and a
digest from the key file are compared the same way, and the audit can name a caller by
the first characters of its digest without ever holding the key.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi.security import APIKeyHeader

from service.settings import Settings, SettingsError, key_digest

API_KEY_HEADER = "X-API-Key"
KEY_ID_CHARS = 8

# Documents the header in OpenAPI; the check itself is `KeyRing.identify`.
api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="An API key; required on /v1 routes when the service has keys configured.",
)


@dataclass(frozen=True)
class Caller:
    """Who made a request: the key id (first hex of its digest), None when auth is off."""

    key_id: str | None
    admin: bool


def key_id(digest: str) -> str:
    return digest[:KEY_ID_CHARS]


def _matches(candidate: str, digests: tuple[str, ...]) -> bool:
    # Compare against every digest without stopping at a match, so the time taken does not
    # tell which key (or how many keys) came close.
    found = False
    for digest in digests:
        found |= hmac.compare_digest(candidate, digest)
    return found


class DuplicateKeyHeaderError(ValueError):
    """A request that carries the key header more than once."""


def presented_key(values: list[str]) -> str | None:
    """The one key a request presents, from every value of its key header.

    Two headers are refused rather than one picked: a proxy that adds its own key and a
    client that sends another must not decide by header order who the caller is.
    """
    if len(values) > 1:
        raise DuplicateKeyHeaderError(f"{API_KEY_HEADER} is sent more than once")
    return values[0] if values else None


@dataclass(frozen=True)
class KeyRing:
    """The configured key digests; empty user digests mean auth is off."""

    user_digests: tuple[str, ...]
    admin_digests: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """The key ring of the settings; reads the digest files, so a bad one fails here."""
        ring = cls(
            user_digests=tuple(sorted(settings.api_key_digests())),
            admin_digests=tuple(sorted(settings.admin_key_digests())),
        )
        # Keys were asked for but none came out: auth must not quietly go off.
        if settings.auth_enabled and not ring.enabled:
            raise SettingsError("API keys are configured but none could be read")
        return ring

    @property
    def enabled(self) -> bool:
        return bool(self.user_digests)

    def identify(self, key: str | None) -> Caller | None:
        """The caller a key belongs to; None for a missing or unknown key while auth is on."""
        if not self.enabled:
            return Caller(key_id=None, admin=True)
        if not key:
            return None
        digest = key_digest(key)
        if not _matches(digest, self.user_digests):
            return None
        return Caller(key_id=key_id(digest), admin=_matches(digest, self.admin_digests))
