"""The on-disk model registry.

Layout (`models/` by default)::

    models/
      ACTIVE                 the version in service (one line)
      history.jsonl          every registration, promotion and rollback, appended
      <version>/
        model.joblib         the pickled RiskModel
        card.json            provenance, features, metrics, thresholds
        SHA256SUMS           digests of the two files above

Every write goes to a temporary name in the same directory and is renamed into place, so a
crash never leaves a half-written model or ACTIVE file. Loading checks the SHA-256 of the
artifact *before* unpickling (a pickle runs code) and refuses library versions that differ
from the ones the model was trained with.

`SHA256SUMS` alone catches accidents, not someone who can write a version directory and
recompute it. So the digest of `SHA256SUMS` itself is recorded in `history.jsonl` when a
version is registered or promoted (pinned), and, with a signing key, an HMAC of it is
recorded too (signed). Loading refuses a version whose `SHA256SUMS` no pin matches, any pin
contradicts, or, with a key, no valid signature covers. A pin guards against a version
directory swapped or rewritten; only the key (kept outside the registry) guards against
someone who can rewrite the whole registry, history included. Version names follow one
pattern and resolve only to directories directly inside the registry.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import joblib
import numpy as np
import pandas as pd
import sklearn

from training.files import atomic_file, put_directory_in_place
from training.schema import shown

ARTIFACT: Final = "model.joblib"
CARD: Final = "card.json"
SUMS: Final = "SHA256SUMS"
ACTIVE: Final = "ACTIVE"
HISTORY: Final = "history.jsonl"

# What `new_version` makes: a date and a serial number. Nothing else names a version, so no
# name can climb out of the registry (`..`, `/`) or hold anything but these characters.
VERSION_PATTERN: Final = re.compile(r"\d{4}-\d{2}-\d{2}\.[1-9]\d{0,5}")
VERSION_FORM: Final = "YYYY-MM-DD.N"
# ACTIVE holds one version name and a line end; more than this is not a version name, and
# is neither read further nor quoted back.
_MAX_ACTIVE_BYTES: Final = 64
# History fields that pin and sign a version's SHA256SUMS.
_PIN: Final = "sums_sha256"
_SIGNATURE: Final = "sums_hmac"

# Libraries whose version must match between training and loading: a pickle of an
# estimator is only guaranteed to load in the version that wrote it.
PINNED_LIBRARIES: Final = {"scikit-learn": sklearn.__version__, "numpy": np.__version__}
# The layout of the model's features and signals, and of its pickled structure: a model
# written with another layout cannot be scored by this code. 2: expectation confidence and
# HS-heading expectations, function words dropped from the text, the physical interaction
# features. 3: the parties' history (sender, recipient, watch list). 4: the feature stack
# is one scikit-learn Pipeline (`RiskModel.features_`; the same numbers). 5: the parties'
# earlier parcels' first-pass scores (`RiskModel.first_pass_`, two prior-score features).
# 6: gradient-boosted trees for the risk score (`RiskModel.risk_`, `risk_trees_`), the
# linear model reasons read beside them (`linear_`, `linear_calibration_`). 7: reasons read
# off the trees' paths (`TreeTable.node_value_`); no linear risk model. 8: expectations are
# known from words of honest goods only (`TextSignals.expectation_words_`). 9: the spreads
# of honest lines as text signals, and residuals measured in them (two form features).
MODEL_FORMAT: Final = 9


class RegistryError(Exception):
    """A registry operation that cannot be done; the message says why, for a user."""


class ArtifactIntegrityError(RegistryError):
    """An artifact whose digest or library versions do not match its card."""


class UntrustedModelError(ArtifactIntegrityError):
    """A version whose SHA256SUMS is not the one pinned (or signed) when it was registered."""


def check_version(version: str) -> str:
    """`version` if it is a version name; `RegistryError` (not quoting it in full) if not."""
    if not VERSION_PATTERN.fullmatch(version):
        raise RegistryError(
            f"{shown(version)} is not a model version (expected {VERSION_FORM}, e.g. 2026-11-28.1)"
        )
    return version


def sums_signature(key: bytes, version: str, sums_sha256: str) -> str:
    """The HMAC-SHA256 that vouches for a version's SHA256SUMS under a signing key."""
    message = f"parcel-screen model {version} {sums_sha256}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: Any
    card: dict[str, Any]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class Registry:
    def __init__(self, root: Path, *, signing_key: bytes | None = None) -> None:
        self.root = Path(root)
        # With a key, loading needs a signature made with it; without, a pin suffices.
        self.signing_key = signing_key

    # --- reading -------------------------------------------------------------------------

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if VERSION_PATTERN.fullmatch(p.name) and p.is_dir() and (p / CARD).is_file()
        )

    def active_version(self) -> str | None:
        path = self.root / ACTIVE
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            data = handle.read(_MAX_ACTIVE_BYTES + 1)
        if len(data) > _MAX_ACTIVE_BYTES:
            raise RegistryError(
                f"{path} is not a version name (over {_MAX_ACTIVE_BYTES} bytes); "
                "activate a model with `parcel-screen models promote VERSION`"
            )
        try:
            version = data.decode("ascii").strip()
        except UnicodeDecodeError:
            version = None
        if version is not None and not version:
            return None
        if version is None or not VERSION_PATTERN.fullmatch(version):
            raise RegistryError(
                f"{path} does not name a model version (expected {VERSION_FORM}); "
                "activate a model with `parcel-screen models promote VERSION`"
            )
        return version

    def _directory(self, version: str) -> Path:
        """The version's directory, which must sit directly inside the registry.

        The name is checked first; the resolved path too, so that a version directory that
        is a link to somewhere else is not followed there.
        """
        check_version(version)
        directory = self.root / version
        root = self.root.resolve()
        if directory.resolve().parent != root:
            raise RegistryError(f"model {version}: its directory lies outside {self.root}")
        return directory

    def _resolve(self, version: str | None) -> str:
        resolved = version or self.active_version()
        if resolved is None:
            raise RegistryError(
                f"no active model in {self.root}: build one with `make model` "
                "or `parcel-screen train`"
            )
        check_version(resolved)
        if not (self.root / resolved / CARD).is_file():
            known = ", ".join(self.versions()) or "none"
            raise RegistryError(f"model version {resolved!r} not found (known: {known})")
        self._directory(resolved)
        return resolved

    def card(self, version: str | None = None) -> dict[str, Any]:
        resolved = self._resolve(version)
        card: dict[str, Any] = json.loads((self.root / resolved / CARD).read_text("utf-8"))
        return card

    def history(self) -> list[dict[str, Any]]:
        """The history's events; a line that is not a JSON object (a torn write) is skipped."""
        path = self.root / HISTORY
        if not path.is_file():
            return []
        events = []
        for line in path.read_text("utf-8", errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
        return events

    def sums_digest(self, version: str) -> str:
        """The SHA-256 of a version's SHA256SUMS: what pins and signatures vouch for."""
        return hashlib.sha256(self._sums(version)).hexdigest()

    def _pins(self, version: str) -> set[str]:
        return {str(e[_PIN]) for e in self.history() if e.get("version") == version and _PIN in e}

    def _check_trusted(self, version: str, sums_sha256: str) -> None:
        """Refuse a SHA256SUMS that the history does not vouch for (see the module doc)."""
        events = [e for e in self.history() if e.get("version") == version]
        pins = {str(e[_PIN]) for e in events if _PIN in e}
        # Every pin must agree: a line appended later cannot re-pin a version.
        if pins - {sums_sha256}:
            raise UntrustedModelError(
                f"model {version}: {SUMS} is not the one recorded when it was registered; "
                "refusing to load a replaced artifact"
            )
        if self.signing_key is not None:
            expected = sums_signature(self.signing_key, version, sums_sha256)
            signed = any(hmac.compare_digest(str(e.get(_SIGNATURE, "")), expected) for e in events)
            if not signed:
                raise UntrustedModelError(
                    f"model {version} is not signed with this signing key "
                    "(PARCEL_SCREEN_MODEL_SIGNING_KEY); if it is yours, sign it: "
                    f"`parcel-screen models trust {version}` with the key set"
                )
        elif not pins:
            raise UntrustedModelError(
                f"model {version}: its {SUMS} was never pinned in {HISTORY} (registered by an "
                f"older version?); if it is yours: `parcel-screen models trust {version}`"
            )

    def _sums(self, version: str) -> bytes:
        sums_path = self._directory(version) / SUMS
        if not sums_path.is_file():
            raise ArtifactIntegrityError(f"model {version}: {SUMS} is missing")
        return sums_path.read_bytes()

    def _read_checked(self, version: str) -> tuple[bytes, bytes]:
        """The artifact's and the card's bytes, checked against the trusted SHA256SUMS.

        The bytes checked are the bytes used: nothing is read from disk again between the
        check and the unpickling, so a file swapped in between is never loaded.
        """
        sums = self._sums(version)
        self._check_trusted(version, hashlib.sha256(sums).hexdigest())
        return self._files_matching(version, sums)

    def _files_matching(self, version: str, sums: bytes) -> tuple[bytes, bytes]:
        """The artifact's and the card's bytes, if they match the digests in `sums`."""
        directory = self._directory(version)
        expected = {}
        for line in sums.decode("utf-8", errors="replace").splitlines():
            digest, _, name = line.strip().partition("  ")
            if name:
                expected[name] = digest
        contents = {}
        for name in (ARTIFACT, CARD):
            path = directory / name
            if name not in expected:
                raise ArtifactIntegrityError(f"model {version}: {SUMS} has no entry for {name}")
            if not path.is_file():
                raise ArtifactIntegrityError(f"model {version}: {name} is missing")
            data = path.read_bytes()
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected[name]:
                raise ArtifactIntegrityError(
                    f"model {version}: SHA-256 of {name} is {actual[:12]}..., "
                    f"expected {expected[name][:12]}...; refusing to load a modified artifact"
                )
            contents[name] = data
        return contents[ARTIFACT], contents[CARD]

    def _checked_card(self, version: str, card_bytes: bytes) -> dict[str, Any]:
        card: dict[str, Any] = json.loads(card_bytes.decode("utf-8"))
        if card.get("model_format", 1) != MODEL_FORMAT:
            raise ArtifactIntegrityError(
                f"model {version} has the layout of an older parcel-screen "
                f"(format {card.get('model_format', 1)}, this one reads {MODEL_FORMAT}): "
                "retrain it (`parcel-screen train`)"
            )
        trained_with = card.get("libraries", {})
        for library, running in PINNED_LIBRARIES.items():
            if trained_with.get(library) not in (None, running):
                raise ArtifactIntegrityError(
                    f"model {version} was trained with {library} {trained_with[library]}, "
                    f"this installation has {running}: retrain it (`parcel-screen train`)"
                )
        return card

    def verify(self, version: str) -> dict[str, Any]:
        """Check the pin (or signature), digests and library versions; return the card."""
        _, card_bytes = self._read_checked(self._resolve(version))
        return self._checked_card(version, card_bytes)

    def load(self, version: str | None = None) -> LoadedModel:
        resolved = self._resolve(version)
        artifact, card_bytes = self._read_checked(resolved)
        card = self._checked_card(resolved, card_bytes)
        model = joblib.load(io.BytesIO(artifact))
        return LoadedModel(version=resolved, model=model, card=card)

    # --- writing -------------------------------------------------------------------------

    def new_version(self) -> str:
        """Date-based versions: `2026-11-28.1`, `.2`, ... in registration order."""
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        taken = [v for v in self.versions() if v.startswith(today + ".")]
        numbers = [int(v.rsplit(".", 1)[1]) for v in taken if v.rsplit(".", 1)[1].isdigit()]
        return f"{today}.{max(numbers, default=0) + 1}"

    def register(self, model: Any, card: dict[str, Any], *, activate: bool = False) -> str:
        """Write a model and its card as a new version; optionally make it active."""
        self.root.mkdir(parents=True, exist_ok=True)
        version = check_version(card.get("version") or self.new_version())
        final = self.root / version
        if final.exists():
            raise RegistryError(f"model version {version} already exists")
        card = {
            **card,
            "version": version,
            "libraries": {**PINNED_LIBRARIES},
            "model_format": MODEL_FORMAT,
        }
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{version}."))
        try:
            joblib.dump(model, staging / ARTIFACT, compress=3)
            (staging / CARD).write_text(
                json.dumps(card, indent=2, default=_json_default, ensure_ascii=False), "utf-8"
            )
            sums = "".join(f"{sha256_of(staging / n)}  {n}\n" for n in (ARTIFACT, CARD))
            (staging / SUMS).write_text(sums, "utf-8")
            put_directory_in_place(staging, final)
        except BaseException:
            for path in staging.glob("*"):
                path.unlink(missing_ok=True)
            staging.rmdir()
            raise
        self._record("register", version, **self._vouch(version))
        if activate:
            self.activate(version, action="activate")
        return version

    def activate(self, version: str, *, action: str = "promote", reason: str | None = None) -> None:
        self.verify(self._resolve(version))
        try:
            previous = self.active_version()
        except RegistryError:
            previous = None  # an ACTIVE file that names no version is what this replaces
        with atomic_file(self.root / ACTIVE, "w") as handle:
            handle.write(version + "\n")
        self._record(action, version, previous=previous, reason=reason, **self._vouch(version))

    def _vouch(self, version: str, digest: str | None = None) -> dict[str, str]:
        """The pin (and, with a key, the signature) of a version's SHA256SUMS as it is now."""
        digest = digest or self.sums_digest(version)
        fields = {_PIN: digest}
        if self.signing_key is not None:
            fields[_SIGNATURE] = sums_signature(self.signing_key, version, digest)
        return fields

    def trust(self, version: str, *, reason: str | None = None) -> str:
        """Pin (and sign, with a key) a version registered without, after checking its files.

        For versions registered before pins were kept, or before a signing key was set.
        A version pinned already keeps its pin: this refuses a SHA256SUMS that differs
        from it. Returns the pinned digest.
        """
        resolved = self._resolve(version)
        sums = self._sums(resolved)
        digest = hashlib.sha256(sums).hexdigest()
        if self._pins(resolved) - {digest}:
            raise UntrustedModelError(
                f"model {resolved}: {SUMS} is not the one recorded when it was registered; "
                "a replaced artifact cannot be trusted again"
            )
        # Only the pin may be missing: the files must still match their SHA256SUMS.
        self._files_matching(resolved, sums)
        self._record("trust", resolved, reason=reason, **self._vouch(resolved, digest))
        return digest

    def _activation_stack(self) -> list[str]:
        """Versions in the order they became active; a rollback pops the newest."""
        stack: list[str] = []
        for event in self.history():
            if event.get("action") in ("promote", "activate"):
                stack.append(str(event["version"]))
            elif event.get("action") == "rollback" and stack:
                stack.pop()
        return stack

    def rollback(self) -> str:
        """Re-activate the version that was active before the current one."""
        stack = self._activation_stack()
        if len(stack) < 2:
            raise RegistryError("nothing to roll back to: no earlier active version")
        current, previous = stack[-1], stack[-2]
        self.activate(previous, action="rollback", reason=f"rolled back from {current}")
        return previous

    def _record(self, action: str, version: str, **details: Any) -> None:
        event = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "action": action,
            "version": version,
            **{k: v for k, v in details.items() if v is not None},
        }
        line = (json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8")
        # Appended, never rewritten: an event once written (a pin above all) stays as it was.
        descriptor = os.open(self.root / HISTORY, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
