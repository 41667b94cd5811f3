"""Service settings, read from `PARCEL_SCREEN_*` environment variables.

One object holds every knob of the HTTP service; `create_app()` and `serve()` take it
explicitly so tests build apps with their own settings instead of patching the process
environment.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable."""


def key_digest(key: str) -> str:
    """The SHA-256 hex digest under which an API key is known and compared."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _split_keys(value: Any) -> Any:
    # Comma-separated in the environment; a list when built in code.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


# A key digest file holds a few dozen lines; anything far bigger is the wrong file (a
# device, a log), refused rather than read without end.
_MAX_DIGEST_FILE_BYTES = 1 << 20


def read_digest_file(path: Path, setting: str = "PARCEL_SCREEN_API_KEYS_FILE") -> frozenset[str]:
    """SHA-256 hex digests, one a line; blank lines and `#` comments are skipped.

    A file that holds no digest at all is an error, not "no keys": the operator meant to
    turn auth on, and a file emptied by a failed deployment must not turn it off. Lines
    are never quoted back in messages: a wrong line may well be a plaintext key.
    """
    try:
        if not path.is_file():
            raise SettingsError(f"{setting}: {path} is not a regular file")
        with path.open("rb") as handle:
            data = handle.read(_MAX_DIGEST_FILE_BYTES + 1)
    except OSError as exc:
        raise SettingsError(
            f"{setting}: cannot read API key digest file {path}: {exc.strerror or exc}"
        ) from None
    if len(data) > _MAX_DIGEST_FILE_BYTES:
        raise SettingsError(
            f"{setting}: {path} is larger than {_MAX_DIGEST_FILE_BYTES} bytes; "
            "expected one SHA-256 hex digest a line"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SettingsError(f"{setting}: {path} is not UTF-8 text") from None
    digests = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip().lower()
        if not line:
            continue
        if not _HEX_DIGEST.fullmatch(line):
            raise SettingsError(
                f"{setting}: {path}, line {number}: expected a SHA-256 hex digest "
                "(64 hex characters)"
            )
        digests.add(line)
    if not digests:
        raise SettingsError(
            f"{setting}: {path} holds no key digest (it is empty or only comments); "
            "refusing to start with auth switched off by an empty file"
        )
    return frozenset(digests)


# A signing key shorter than this is guessable offline from one signature in the history.
MIN_SIGNING_KEY_CHARS = 32


class RegistrySettings(BaseSettings):
    """What every user of the model registry needs: the service and the command line.

    Apart from `Settings` so that registry commands do not depend on the service's other
    variables being valid.
    """

    model_config = SettingsConfigDict(
        env_prefix="PARCEL_SCREEN_", extra="ignore", validate_default=True
    )

    # HMAC key that signs each registered or promoted model's SHA256SUMS in the registry
    # history; with it set, only models signed with it load. Without it, loading trusts the
    # digest pinned in the history at registration, which anyone able to rewrite the whole
    # registry could change: set a key where the registry is writable by others.
    model_signing_key: SecretStr | None = None
    # A file holding the signing key (its first line), instead of the variable.
    model_signing_key_file: Path | None = None

    @field_validator("model_signing_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _one_signing_key(self) -> RegistrySettings:
        if self.model_signing_key is not None and self.model_signing_key_file is not None:
            raise ValueError(
                "set PARCEL_SCREEN_MODEL_SIGNING_KEY or PARCEL_SCREEN_MODEL_SIGNING_KEY_FILE, "
                "not both"
            )
        return self

    def signing_key(self) -> bytes | None:
        """The model signing key, read from its file if it has one; None without a key."""
        setting = "PARCEL_SCREEN_MODEL_SIGNING_KEY"
        if self.model_signing_key_file is not None:
            setting += "_FILE"
            path = self.model_signing_key_file
            try:
                if not path.is_file():
                    raise SettingsError(f"{setting}: {path} is not a regular file")
                with path.open("rb") as handle:
                    lines = handle.read(4096).decode("utf-8").splitlines()
            except OSError as exc:
                raise SettingsError(
                    f"{setting}: cannot read {path}: {exc.strerror or exc}"
                ) from None
            except UnicodeDecodeError:
                raise SettingsError(f"{setting}: {path} is not UTF-8 text") from None
            key = lines[0].strip() if lines else ""
        elif self.model_signing_key is not None:
            key = self.model_signing_key.get_secret_value().strip()
        else:
            return None
        if len(key) < MIN_SIGNING_KEY_CHARS:
            # Empty included: a key file emptied by mistake must not switch signing off.
            raise SettingsError(
                f"{setting}: the key is {len(key)} characters; use at least "
                f"{MIN_SIGNING_KEY_CHARS} (e.g. `openssl rand -hex 32`)"
            )
        return key.encode("utf-8")


# Where the store is when nothing says otherwise: a SQLite file, nothing to install.
DEFAULT_DATABASE_URL = "sqlite:///var/store.sqlite3"


class StoreSettings(BaseSettings):
    """Where the store is and what it keeps: read alike by the service and the CLI.

    Apart from `Settings` so that store commands do not depend on the service's other
    variables being valid.
    """

    model_config = SettingsConfigDict(
        env_prefix="PARCEL_SCREEN_", extra="ignore", validate_default=True
    )

    # The store of audit trail, feedback, party history and watch list, as a URL:
    # `sqlite:///var/store.sqlite3` (a SQLite file; four slashes for an absolute path) or
    # `postgresql://user:password@host:5432/db`, which several replicas share. The schema
    # is created or migrated on first use.
    database_url: str | None = None
    # Superseded by database_url: the SQLite file of the audit trail, as older deployments
    # set it. Still honoured when set (and database_url is not).
    audit_db: Path | None = None
    # Parcels older than this are left out of party histories and purged by the audit
    # writer (hourly) and by `history forget`. Two years: long enough for a shipper's
    # pattern over seasons, short enough not to keep personal data without need.
    history_retention_days: int = Field(730, ge=1, le=36500)
    # How long the service trusts a party history it read (seconds); this process's own
    # changes drop it at once, so this bounds how long replicas sharing a PostgreSQL store
    # may miss each other's outcomes and watch-list changes. 0 turns the cache off.
    history_cache_seconds: float = Field(5.0, ge=0, le=3600)

    @field_validator("database_url", mode="before")
    @classmethod
    def _blank_url_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_store(self) -> StoreSettings:
        if self.database_url is not None and self.audit_db is not None:
            raise ValueError(
                "set PARCEL_SCREEN_DATABASE_URL or PARCEL_SCREEN_AUDIT_DB (superseded), not both"
            )
        return self

    def store_url(self) -> str:
        """The store's URL: database_url, else the superseded audit_db file, else the default."""
        if self.database_url is not None:
            return self.database_url
        if self.audit_db is not None:
            return f"sqlite:///{self.audit_db}"
        return DEFAULT_DATABASE_URL


class Settings(RegistrySettings, StoreSettings):
    model_config = SettingsConfigDict(
        env_prefix="PARCEL_SCREEN_", extra="ignore", validate_default=True
    )

    # The model registry: a directory of versioned artifacts plus an ACTIVE pointer.
    models_dir: Path = Path("models")
    # Serve this version instead of the one ACTIVE names (pins the model; reload keeps it).
    model_version: str | None = None

    # Plaintext API keys, comma-separated. Any key (here or in the file) turns auth on for
    # every /v1 route; health and metrics stay open.
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # A file of SHA-256 hex digests of API keys, one a line, so keys need not sit in plaintext.
    # A file that is empty, only comments, unreadable or not a regular file stops the
    # service at start-up: it never means "no keys".
    api_keys_file: Path | None = None
    # Keys for /v1/admin/* (reload, feedback export); an admin key is also a valid API key.
    admin_api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # Digests of admin keys, one a line; refused at start-up like the API key file.
    admin_api_keys_file: Path | None = None

    # Largest request body accepted, in bytes; counted as it streams, so chunked uploads
    # cannot get past it.
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    # Most declarations in one /v1/score/batch call; bigger batches belong in /v1/score/csv.
    max_batch_declarations: int = Field(1000, ge=1)
    # Time a request may take before its response starts; a streamed response, once
    # started, is not cut off.
    request_timeout_seconds: float = Field(30.0, gt=0)
    # Full-size (max_body_bytes) batch and CSV requests scored at once; smaller ones take a
    # share by body size (at least a sixteenth). Beyond it, 503 with Retry-After before the
    # body is kept. Each holds memory in proportion to its body while it runs (a full batch
    # a few hundred MB), so this bounds the service's memory under concurrent large requests.
    max_concurrent_batches: int = Field(2, ge=1)

    # Per-deployment decision thresholds on the parcel risk score; unset means the
    # thresholds stored with the model (chosen for its target false-alarm rate).
    review_threshold: float | None = Field(None, ge=0, le=1)
    inspect_threshold: float | None = Field(None, ge=0, le=1)
    # Share of otherwise clear parcels sent to review at random, so officers keep seeing
    # traffic the model does not flag (and feedback does not only confirm the model).
    random_selection_rate: float = Field(0.005, ge=0, le=1)

    # Record every scored declaration and every feedback outcome.
    audit_enabled: bool = True
    # Most rows the audit writer commits in one transaction.
    audit_batch_rows: int = Field(500, ge=1)
    # How often the audit writer commits what requests queued; a clean shutdown commits
    # the rest, so this bounds only how fresh the database is, not what it keeps. Shorter
    # costs the request path: at one connection, 0.004 s gave ~4 rows a commit and ~0.2 ms
    # more server CPU a request than 0.1 s, ~40 rows a commit (docs/decisions.md).
    audit_flush_seconds: float = Field(0.1, gt=0, le=10)
    # How long a store write waits for a locked database (a backup, another process
    # writing) before the writer spills its rows, or POST /v1/feedback (and the admin
    # routes) answer 503 with Retry-After; a lock is never a 500.
    audit_lock_wait_seconds: float = Field(10.0, gt=0, le=600)
    # Where audit rows wait while the database cannot take them (locked past the wait, a
    # full disk, gone), put into it when it takes writes again. Default: beside a SQLite
    # store, `<file>.spill.jsonl`; with PostgreSQL, `var/store.spill.jsonl` on each
    # replica's own disk. On another disk than a SQLite store it also covers a full one.
    audit_spill_path: Path | None = None
    # While the audit database fails: `spill` keeps scoring (rows go to the spill file);
    # `refuse` answers scoring requests 503, where nothing may be scored without a record.
    audit_on_failure: Literal["spill", "refuse"] = "spill"

    # Inspection outcomes one API key may post a minute (POST /v1/feedback), in bursts of up
    # to `feedback_burst`; beyond it, 429 with Retry-After. Outcomes come at the pace of
    # inspections, or in a backfill of a few hundred: a flood is a broken client or
    # someone steering the labels.
    feedback_per_minute: int = Field(600, ge=1)
    feedback_burst: int = Field(300, ge=1)

    # `json` for log shippers, `plain` for a person at a terminal.
    log_format: Literal["json", "plain"] = "json"
    # Root log level.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # One log line per request (method, route, status, duration, request id). Off by
    # default: it costs ~40 us a request (measured), a sixth of a scoring call, and the
    # audit trail and metrics already record every scoring call with its request id.
    access_log: bool = False
    # Reload the model on SIGHUP, as `POST /v1/admin/reload` does.
    reload_on_sighup: bool = True

    @field_validator("api_keys", "admin_api_keys", mode="before")
    @classmethod
    def _keys(cls, value: Any) -> Any:
        return _split_keys(value)

    @field_validator("api_keys_file", "admin_api_keys_file", mode="before")
    @classmethod
    def _file_named(cls, value: Any) -> Any:
        # A variable set to nothing would become the current directory; say what it is.
        if isinstance(value, str) and not value.strip():
            raise ValueError("is set but empty: name the digest file, or unset the variable")
        return value

    @field_validator("model_version", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Settings:
        review, inspect = self.review_threshold, self.inspect_threshold
        if review is not None and inspect is not None and review > inspect:
            raise ValueError("review_threshold must not be above inspect_threshold")
        return self

    def api_key_digests(self) -> frozenset[str]:
        """Digests of the keys that may call /v1 (admin keys included)."""
        digests = {key_digest(key.get_secret_value()) for key in self.api_keys}
        if self.api_keys_file is not None:
            digests |= read_digest_file(self.api_keys_file, "PARCEL_SCREEN_API_KEYS_FILE")
        return frozenset(digests) | self.admin_key_digests()

    def admin_key_digests(self) -> frozenset[str]:
        """Digests of the keys that may call /v1/admin."""
        digests = {key_digest(key.get_secret_value()) for key in self.admin_api_keys}
        if self.admin_api_keys_file is not None:
            digests |= read_digest_file(
                self.admin_api_keys_file, "PARCEL_SCREEN_ADMIN_API_KEYS_FILE"
            )
        return frozenset(digests)

    @property
    def auth_enabled(self) -> bool:
        """Whether /v1 calls need a key: any key is configured, admin keys included."""
        return bool(
            self.api_keys or self.api_keys_file or self.admin_api_keys or self.admin_api_keys_file
        )
