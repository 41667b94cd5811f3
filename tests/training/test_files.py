"""Replacing a file: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from training.files import atomic_file, put_directory_in_place, replacing


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


def test_a_staged_directory_arrives_whole_with_shared_permissions(tmp_path: Path) -> None:
    staging = Path(tempfile.mkdtemp(dir=tmp_path, prefix=".v1."))
    (staging / "model.joblib").write_bytes(b"model")
    (staging / "card.json").write_text("{}", encoding="utf-8")
    put_directory_in_place(staging, tmp_path / "v1")
    assert not staging.exists()
    assert sorted(p.name for p in (tmp_path / "v1").iterdir()) == ["card.json", "model.joblib"]
    umask = os.umask(0)
    os.umask(umask)
    # mkdtemp makes a private directory; a model version is read by every replica's user.
    assert (tmp_path / "v1").stat().st_mode & 0o777 == 0o777 & ~umask


def test_a_staged_directory_never_replaces_a_version_with_content(tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "card.json").write_text("{}", encoding="utf-8")
    staging = Path(tempfile.mkdtemp(dir=tmp_path))
    (staging / "card.json").write_text('{"new": 1}', encoding="utf-8")
    with pytest.raises(OSError):
        put_directory_in_place(staging, tmp_path / "v1")
    assert (tmp_path / "v1" / "card.json").read_text(encoding="utf-8") == "{}"
