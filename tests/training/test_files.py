"""Replacing a file: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from training.files import atomic_file, replacing


def test_a_failed_write_leaves_the_old_file_and_no_partial(tmp_path: Path) -> None:
    dest = tmp_path / "out.csv"
    dest.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_file(dest, "w") as handle:
        handle.write("half a ne")
        raise RuntimeError("disk full")
    assert dest.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_a_finished_write_replaces_the_file_with_shared_permissions(tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "report.png"
    with replacing(dest) as temporary:
        assert temporary.parent == dest.parent and temporary != dest
        temporary.write_bytes(b"\x89PNG")
    assert dest.read_bytes() == b"\x89PNG"
    umask = os.umask(0)
    os.umask(umask)
    assert dest.stat().st_mode & 0o777 == 0o666 & ~umask


def test_text_is_utf8_and_newlines_are_as_asked(tmp_path: Path) -> None:
    dest = tmp_path / "rows.csv"
    with atomic_file(dest, "w", newline="") as handle:
        handle.write("мужская\r\n")
    assert dest.read_bytes() == "мужская\r\n".encode()
