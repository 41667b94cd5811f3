"""A throwaway PostgreSQL server for the tests: initdb into a temporary directory, started
on a Unix socket only (no TCP port to collide with), stopped at the end.

PostgreSQL refuses to run as root; under root the server binaries run as the `postgres`
system user, in a directory it owns. Without the binaries (Debian's `postgresql` package)
the tests that need the server skip and say how to get them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

HOW_TO_GET: Final = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: install them "
    "(`apt-get install postgresql` on Debian/Ubuntu) to run the PostgreSQL store tests"
)


def server_binaries() -> Path | None:
    """The directory of initdb and pg_ctl: Debian's versioned one, else the PATH's."""
    for directory in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    found = shutil.which("pg_ctl")
    if found and (Path(found).parent / "initdb").is_file():
        return Path(found).parent
    return None


def _free_port() -> int:
    # The port only names the socket file; no TCP listener is opened.
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    socket_dir: Path
    port: int
    _names: Iterator[int]

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = f"test_{next(self._names)}"
        with psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        ) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextlib.contextmanager
def running_server(binaries: Path) -> Iterator[PostgresServer]:
    as_root = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="parcel-screen-pg-"))
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(root, "postgres", "postgres")
    data, log, port = root / "data", root / "server.log", _free_port()

    def run(*command: str) -> None:
        subprocess.run([*run_as, *command], check=True, capture_output=True, timeout=120)

    try:
        run(
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        options = (
            f"-p {port} -k {root} -c listen_addresses='' "
            # Durability is not what these tests are about; speed is.
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
        try:
            yield PostgresServer(root, port, itertools.count(1))
        finally:
            run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
