"""The files commands read and write, taken as they come from a shell.

- An output is written to a temporary `.partial` file beside it and renamed into place, so
  the destination must be a regular file (or not exist yet): renaming over a device, a
  FIFO or a directory would replace it (as root, `/dev/null` itself), so those are refused.
- A run killed outright (SIGKILL, OOM) cannot remove its `.partial` file. The name carries
  the host and process id of the run that wrote it, so the next run towards the same
  destination removes the files of runs that are gone, and only those.
- Readers open a table more than once (to detect its format, then to read it), which a
  FIFO, `-` or `/dev/stdin` cannot give: such inputs are copied once to a temporary file,
  read in one pass, and read from there.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final

PARTIAL_SUFFIX: Final = ".partial"
# The name standing for standard input, as for standard output.
STDIN: Final = "-"
_SPOOL_NAME: Final = "parcel-screen-input"
_COPY_BYTES: Final = 1 << 20


class UnusableFileError(OSError):
    """A path that cannot be used as asked; the message is one line for the user."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def output_destination(dest: Path) -> Path:
    """The path an output replaces: `dest`, or the file a link at `dest` points to.

    Raises `UnusableFileError` when `dest` exists and is not a regular file.
    """
    try:
        mode = os.stat(dest).st_mode  # follows links: a link to a device is a device
    except FileNotFoundError:
        return dest
    except OSError as exc:
        raise UnusableFileError(f"{dest}: cannot be written ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise UnusableFileError(
            f"{dest} is {_kind(mode)}, not a file: name a file to write "
            f"(or {STDIN} for standard output)"
        )
    # Replace the file a link points to, and keep the link.
    return Path(os.path.realpath(dest)) if dest.is_symlink() else dest


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0])[:32] or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    except OSError:
        return True  # cannot tell: leave its file alone
    return True


def _partials_of_dead_runs(directory: Path, prefix: str) -> Iterator[Path]:
    """`.partial` files in `directory` named `prefix`<host>.<pid>. whose run is gone."""
    pattern = re.compile(
        re.escape(prefix) + re.escape(_host()) + r"\.(\d+)\.[^/]*" + re.escape(PARTIAL_SUFFIX)
    )
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and not _alive(pid):
            yield Path(entry.path)


def remove_dead_partials(dest: Path) -> list[Path]:
    """Remove the `.partial` files that runs now gone left beside `dest`; returns them."""
    removed = []
    for path in _partials_of_dead_runs(dest.parent, f".{dest.name}."):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def partial_file(dest: Path, mode: str = "wb") -> tuple[IO[bytes], Path]:
    """A new `.partial` file beside `dest`, opened for writing, after clearing dead runs'."""
    remove_dead_partials(dest)
    descriptor, name = tempfile.mkstemp(
        dir=dest.parent,
        prefix=f".{dest.name}.{_host()}.{os.getpid()}.",
        suffix=PARTIAL_SUFFIX,
    )
    return os.fdopen(descriptor, mode), Path(name)


@contextlib.contextmanager
def replacing(dest: Path) -> Iterator[Path]:
    """A path beside `dest` to write in full; renamed over `dest` (synced, with the
    permissions a new file gets) when the block ends, removed if it fails. Readers of
    `dest` see the old file or the new one, never half a file. The one way this project
    replaces a file.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest = output_destination(dest)
    handle, temporary = partial_file(dest)
    handle.close()
    try:
        yield temporary
        with temporary.open("rb+") as written:
            os.fsync(written.fileno())
        put_in_place(temporary, dest)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def put_in_place(temporary: Path, dest: Path) -> None:
    """The last step of every atomic write: a written, synced file beside `dest` takes its
    place, with the permissions a new file gets (mkstemp makes the file private; an output
    is meant to be shared like any other), and the rename itself is made durable."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    os.replace(temporary, dest)
    _sync_directory(dest.parent)


def put_directory_in_place(staging: Path, dest: Path) -> None:
    """`put_in_place` for a directory of files written in full (a model version): its files
    synced, the permissions a new directory gets (mkdtemp makes it private), one rename
    (readers see the whole directory or none of it), made durable."""
    for path in staging.iterdir():
        with path.open("rb") as written:
            os.fsync(written.fileno())
    _sync_directory(staging)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)
    os.replace(staging, dest)
    _sync_directory(dest.parent)


def _sync_directory(directory: Path) -> None:
    """Make the renames in `directory` durable (not every platform can open a directory)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@contextlib.contextmanager
def atomic_file(dest: Path, mode: str = "wb", newline: str | None = None) -> Iterator[IO[Any]]:
    """`replacing`, opened: a binary file, or UTF-8 text with `mode="w"`."""
    with replacing(dest) as temporary:
        encoding = None if "b" in mode else "utf-8"
        with temporary.open(mode, encoding=encoding, newline=newline) as handle:
            yield handle


def needs_spooling(source: Path) -> bool:
    """Whether a source cannot be opened twice: `-`, a FIFO, a character device."""
    if str(source) == STDIN:
        return True
    try:
        mode = os.stat(source).st_mode
    except OSError:
        return False  # the reader reports a missing file in its own words
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


@contextlib.contextmanager
def readable(source: Path) -> Iterator[Path]:
    """A path to `source` that can be opened as often as a reader likes.

    A regular file is itself; a stream (`-`, a FIFO, `/dev/stdin`, `<(...)`) is read once,
    to its end, into a temporary file that is removed afterwards.
    """
    if not needs_spooling(source):
        yield source
        return
    # A partial file like an output's, so the spools of killed runs are cleared alike.
    handle, spool = partial_file(Path(tempfile.gettempdir()) / _SPOOL_NAME)
    try:
        with handle:
            if str(source) == STDIN:
                shutil.copyfileobj(sys.stdin.buffer, handle, _COPY_BYTES)
            else:
                with source.open("rb") as stream:
                    shutil.copyfileobj(stream, handle, _COPY_BYTES)
        yield spool
    finally:
        spool.unlink(missing_ok=True)
