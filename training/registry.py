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
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

import joblib
import numpy as np
import pandas as pd
import sklearn

ARTIFACT: Final = "model.joblib"
CARD: Final = "card.json"
SUMS: Final = "SHA256SUMS"
ACTIVE: Final = "ACTIVE"
HISTORY: Final = "history.jsonl"

# Libraries whose version must match between training and loading: a pickle of an
# estimator is only guaranteed to load in the version that wrote it.
PINNED_LIBRARIES: Final = {"scikit-learn": sklearn.__version__, "numpy": np.__version__}


class RegistryError(Exception):
    """A registry operation that cannot be done; the message says why, for a user."""


class ArtifactIntegrityError(RegistryError):
    """An artifact whose digest or library versions do not match its card."""


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


@contextmanager
def atomic_write(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write to a temp file beside `path`, fsync, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        handle: IO[Any] = (
            os.fdopen(fd, mode) if "b" in mode else os.fdopen(fd, mode, encoding="utf-8")
        )
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # --- reading -------------------------------------------------------------------------

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / CARD).is_file())

    def active_version(self) -> str | None:
        path = self.root / ACTIVE
        if not path.is_file():
            return None
        version = path.read_text(encoding="utf-8").strip()
        return version or None

    def _resolve(self, version: str | None) -> str:
        resolved = version or self.active_version()
        if resolved is None:
            raise RegistryError(
                f"no active model in {self.root}: build one with `make model` "
                "or `parcel-screen train`"
            )
        if not (self.root / resolved / CARD).is_file():
            known = ", ".join(self.versions()) or "none"
            raise RegistryError(f"model version {resolved!r} not found (known: {known})")
        return resolved

    def card(self, version: str | None = None) -> dict[str, Any]:
        resolved = self._resolve(version)
        card: dict[str, Any] = json.loads((self.root / resolved / CARD).read_text("utf-8"))
        return card

    def history(self) -> list[dict[str, Any]]:
        path = self.root / HISTORY
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]

    def verify(self, version: str) -> dict[str, Any]:
        """Check digests and library versions; return the card."""
        directory = self.root / version
        sums_path = directory / SUMS
        if not sums_path.is_file():
            raise ArtifactIntegrityError(f"model {version}: {SUMS} is missing")
        expected = {}
        for line in sums_path.read_text("utf-8").splitlines():
            digest, _, name = line.strip().partition("  ")
            if name:
                expected[name] = digest
        for name in (ARTIFACT, CARD):
            path = directory / name
            if name not in expected:
                raise ArtifactIntegrityError(f"model {version}: {SUMS} has no entry for {name}")
            if not path.is_file():
                raise ArtifactIntegrityError(f"model {version}: {name} is missing")
            actual = sha256_of(path)
            if actual != expected[name]:
                raise ArtifactIntegrityError(
                    f"model {version}: SHA-256 of {name} is {actual[:12]}..., "
                    f"expected {expected[name][:12]}...; refusing to load a modified artifact"
                )
        card = self.card(version)
        trained_with = card.get("libraries", {})
        for library, running in PINNED_LIBRARIES.items():
            if trained_with.get(library) not in (None, running):
                raise ArtifactIntegrityError(
                    f"model {version} was trained with {library} {trained_with[library]}, "
                    f"this installation has {running}: retrain it (`parcel-screen train`)"
                )
        return card

    def load(self, version: str | None = None) -> LoadedModel:
        resolved = self._resolve(version)
        card = self.verify(resolved)
        model = joblib.load(self.root / resolved / ARTIFACT)
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
        version = card.get("version") or self.new_version()
        final = self.root / version
        if final.exists():
            raise RegistryError(f"model version {version} already exists")
        card = {**card, "version": version, "libraries": {**PINNED_LIBRARIES}}
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{version}."))
        try:
            joblib.dump(model, staging / ARTIFACT, compress=3)
            (staging / CARD).write_text(
                json.dumps(card, indent=2, default=_json_default, ensure_ascii=False), "utf-8"
            )
            sums = "".join(f"{sha256_of(staging / n)}  {n}\n" for n in (ARTIFACT, CARD))
            (staging / SUMS).write_text(sums, "utf-8")
            os.replace(staging, final)
        except BaseException:
            for path in staging.glob("*"):
                path.unlink(missing_ok=True)
            staging.rmdir()
            raise
        self._record("register", version)
        if activate:
            self.activate(version, action="activate")
        return version

    def activate(self, version: str, *, action: str = "promote", reason: str | None = None) -> None:
        self.verify(self._resolve(version))
        previous = self.active_version()
        with atomic_write(self.root / ACTIVE) as handle:
            handle.write(version + "\n")
        self._record(action, version, previous=previous, reason=reason)

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
        path = self.root / HISTORY
        existing = path.read_text("utf-8") if path.is_file() else ""
        with atomic_write(path) as handle:
            handle.write(existing + json.dumps(event, ensure_ascii=False) + "\n")
