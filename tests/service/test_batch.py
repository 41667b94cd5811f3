"""The batch scorer: every row back in its place, parcels whole, output atomic."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from service.batch import BatchOptions, BatchSummary, score_csv_bytes, score_table
from service.batch_scoring import OUTPUT_SCORE_COLUMNS, ScoringFailedError
from service.cli import app
from service.policy import ThresholdProfileError, scoring_policy
from service.scorer import Scorer
from training.files import partial_file, remove_dead_partials
from training.registry import Registry
from training.tables import TableError

REPO = Path(__file__).resolve().parents[2]


def read_output(path: Path | str | bytes) -> pd.DataFrame:
    """An output CSV with every cell as text, empty cells as ''."""
    source = io.BytesIO(path) if isinstance(path, bytes) else path
    return pd.read_csv(source, dtype=str, keep_default_na=False)


def records(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def dev_rows(dev_csv: Path) -> list[list[str]]:
    """The sample export as header + records of text."""
    return records(dev_csv)


def write_rows(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return path


def run(
    source: Path, dest: Path, scorer: Scorer, **options: Any
) -> tuple[pd.DataFrame, BatchSummary]:
    summary = score_table(source, dest, scorer, BatchOptions(**options))
    return read_output(dest), summary


# --- every row back, in its place -------------------------------------------------------------


@pytest.fixture(scope="module")
def messy_csv(tmp_path_factory: pytest.TempPathFactory, dev_rows: list[list[str]]) -> Path:
    """The sample with a sequence column, an unknown column and bad rows scattered through.

    Headers are written the way other systems export them (aliases, other languages).
    """
    header, body = dev_rows[0], dev_rows[1:]
    renamed = {"description": "Описание", "net_weight_kg": "Weight", "value": "Declared Value"}
    out = ["seq", *(renamed.get(h, h) for h in header), "note"]
    lines = [",".join(out)]
    for i, row in enumerate(body * 2):  # 500 rows
        values = [str(i), *row, f"n{i}"]
        description = header.index("description") + 1
        weight = header.index("net_weight_kg") + 1
        if i % 37 == 5:
            values[weight] = "heavy"  # not a number
        if i % 41 == 7:
            values[description] = "  "  # empty description
        if i % 43 == 11:
            values[-1] = '=HYPERLINK("http://x")'
        cells = io.StringIO()
        csv.writer(cells, lineterminator="").writerow(values)
        line = cells.getvalue()
        if i == 200:
            line = line.replace(f",n{i}", ',"n200 broken')  # a quote that never closes
        lines.append(line)
    data = ("\n".join(lines) + "\n").encode("utf-8")
    # Undecodable bytes in the middle of the file.
    data = data.replace(b",n300\n", b",n300\xff\xfe\n", 1)
    path = tmp_path_factory.mktemp("messy") / "messy.csv"
    path.write_bytes(data)
    return path


def test_every_row_comes_back_in_order_with_its_values(
    messy_csv: Path, tmp_path: Path, tiny_scorer: Scorer, caplog: pytest.LogCaptureFixture
) -> None:
    output, summary = run(messy_csv, tmp_path / "out.csv", tiny_scorer, workers=1, chunk_rows=64)
    # Bad rows are errors of their own: scoring never failed and had to be worked around.
    assert "scoring them in parts" not in caplog.text
    # Line by line: one record per line here, and one of them has a quote that never closes.
    text = messy_csv.read_bytes().replace(b"\xff\xfe", b"").decode()
    header, *rows = [next(csv.reader([line])) for line in text.splitlines()]
    source = pd.DataFrame([row[: len(header)] for row in rows], columns=header)

    assert len(output) == 500 == summary.rows
    assert output["seq"].tolist() == [str(i) for i in range(500)]
    # Original headers, unknown columns passed through, score columns after them.
    assert list(output.columns) == [*source.columns, *OUTPUT_SCORE_COLUMNS]
    clean = [i for i in range(500) if i not in (200, 300)]
    for name in ("Описание", "Weight", "Declared Value", "hs_code", "declaration_id"):
        assert output.loc[clean, name].tolist() == source.loc[clean, name].tolist(), name


def test_bad_rows_keep_their_place_and_say_why(
    messy_csv: Path, tmp_path: Path, tiny_scorer: Scorer
) -> None:
    output, _ = run(messy_csv, tmp_path / "out.csv", tiny_scorer, workers=1, chunk_rows=64)
    errors = output.set_index(output["seq"].astype(int))["error"]
    assert errors[5].startswith("net_weight_kg: expected a number, got 'heavy'")
    assert errors[5].endswith("(line 7)")
    assert errors[7].startswith("description: is required")
    assert "quote" in errors[200] and "(line 202)" in errors[200]
    assert "not valid utf-8" in errors[300]
    bad = output["error"] != ""
    assert bad.sum() == len({*range(5, 500, 37), *range(7, 500, 41), 200, 300})
    # Unscored rows have empty score columns; every other row is scored.
    for name in OUTPUT_SCORE_COLUMNS[:-1]:
        assert (output.loc[bad, name] == "").all(), name
    assert (output.loc[~bad, "model_version"] == tiny_scorer.model_version).all()
    scores = output.loc[~bad, "risk_score"].astype(float)
    assert scores.between(0, 1).all()
    assert output.loc[~bad, "decision"].isin(["clear", "review", "inspect"]).all()


def test_formulas_are_guarded_in_the_output(
    messy_csv: Path, tmp_path: Path, tiny_scorer: Scorer
) -> None:
    output, _ = run(messy_csv, tmp_path / "out.csv", tiny_scorer, workers=1)
    guarded = output.loc[[i for i in range(500) if i % 43 == 11], "note"]
    assert (guarded == '\'=HYPERLINK("http://x")').all()
    assert not output["note"].str.startswith("=").any()


def test_score_columns_never_overwrite_input_columns(
    dev_rows: list[list[str]], tmp_path: Path, tiny_scorer: Scorer
) -> None:
    header, body = dev_rows[0], dev_rows[1:6]
    source = write_rows(
        tmp_path / "rescored.csv",
        [[*header, "error", "risk_score"], *[[*r, "old error", "0.5"] for r in body]],
    )
    output, _ = run(source, tmp_path / "out.csv", tiny_scorer, workers=1)
    assert output["error.input"].tolist() == ["old error"] * 5
    assert output["risk_score.input"].tolist() == ["0.5"] * 5
    assert (output["error"] == "").all()


def test_columns_option_keeps_only_the_chosen_input_columns(
    dev_csv: Path, tmp_path: Path, tiny_scorer: Scorer
) -> None:
    output, _ = run(
        dev_csv, tmp_path / "out.csv", tiny_scorer, workers=1, columns=["declaration_id", "desc"]
    )
    assert list(output.columns) == ["declaration_id", "description", *OUTPUT_SCORE_COLUMNS]
    with pytest.raises(TableError, match="no column 'nope'"):
        score_table(dev_csv, tmp_path / "x.csv", tiny_scorer, BatchOptions(columns=["nope"]))


def test_a_parcel_that_breaks_the_scorer_is_isolated(
    straddling_csv: Path,
    tmp_path: Path,
    tiny_scorer: Scorer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    score_columns = tiny_scorer.score_columns

    def breaks_on_armour(items: Any, selection_ids: Any = None, **options: Any) -> Any:
        if "бронежилет 4 класса" in list(items["description"]):
            raise ValueError("a bug\nwith a traceback-like second line")
        return score_columns(items, selection_ids, **options)

    monkeypatch.setattr(tiny_scorer, "score_columns", breaks_on_armour)
    output, summary = run(straddling_csv, tmp_path / "out.csv", tiny_scorer, workers=1)
    failed = output["error"] != ""
    # The whole parcel holding the item that breaks scoring, and nothing else.
    assert failed.tolist() == [3 <= i < 6 for i in range(len(output))]
    assert output.loc[3, "error"] == "row: could not be scored (ValueError: a bug) (line 5)"
    assert summary.scored == len(output) - 3
    # The recovery is never silent: a failure is a bug to hear about.
    assert "failed (ValueError: a bug); scoring them in parts" in caplog.text


def test_a_scorer_that_always_fails_stops_the_run(
    dev_csv: Path, tmp_path: Path, tiny_scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(items: Any, selection_ids: Any = None, **options: Any) -> Any:
        raise ValueError("shapes (10,130) and (129,) do not match")

    monkeypatch.setattr(tiny_scorer, "score_columns", broken)
    with pytest.raises(ScoringFailedError, match=r"ValueError: shapes .* does the model fit"):
        score_table(dev_csv, tmp_path / "out.csv", tiny_scorer, BatchOptions(workers=1))
    assert list(tmp_path.iterdir()) == []


# --- parcels, chunks and workers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def straddling_csv(tmp_path_factory: pytest.TempPathFactory, dev_rows: list[list[str]]) -> Path:
    """The sample with rows 4-6 made one 3-item parcel: heavy armour among two shirts."""
    header, body = dev_rows[0], [list(r) for r in dev_rows[1:60]]
    column = {name: i for i, name in enumerate(header)}
    for row, description, weight in zip(
        body[3:6],
        ("cotton T-shirt", "бронежилет 4 класса", "cotton socks"),
        ("0.2", "9", "0.1"),
        strict=True,
    ):
        row[column["declaration_id"]] = "RB999999999RU"
        row[column["description"]] = description
        row[column["net_weight_kg"]] = weight
    return write_rows(tmp_path_factory.mktemp("straddle") / "straddle.csv", [header, *body])


def test_a_parcel_across_chunk_boundaries_is_scored_as_one(
    straddling_csv: Path, tmp_path: Path, tiny_scorer: Scorer
) -> None:
    whole, _ = run(straddling_csv, tmp_path / "whole.csv", tiny_scorer, workers=1)
    parcel = whole.iloc[3:6]["parcel_risk_score"].astype(float)
    assert parcel.nunique() == 1
    assert parcel.iloc[0] == whole.iloc[3:6]["risk_score"].astype(float).max()
    for chunk_rows in (1, 2, 4, 5):  # 4 and 5 cut the parcel after its first and second row
        chunked, _ = run(
            straddling_csv, tmp_path / "chunked.csv", tiny_scorer, workers=1, chunk_rows=chunk_rows
        )
        pd.testing.assert_frame_equal(chunked, whole, obj=f"chunk_rows={chunk_rows}")


def test_one_and_two_workers_give_the_same_output(
    messy_csv: Path, tmp_path: Path, tiny_scorer: Scorer
) -> None:
    one, _ = run(messy_csv, tmp_path / "one.csv", tiny_scorer, workers=1, chunk_rows=50)
    two, _ = run(messy_csv, tmp_path / "two.csv", tiny_scorer, workers=2, chunk_rows=50)
    pd.testing.assert_frame_equal(one, two)


# --- formats and destinations ------------------------------------------------------------------


def test_parquet_in_and_out(dev_csv: Path, tmp_path: Path, tiny_scorer: Scorer) -> None:
    # Quantities, weights and values as numbers, the way Parquet exports hold them; HS codes
    # stay text (as numbers they would lose their leading zeros and dots).
    typed = pd.read_csv(dev_csv, dtype={"hs_code": str})
    typed["extra"] = np.arange(len(typed))
    source = tmp_path / "in.parquet"
    typed.to_parquet(source, index=False)
    dest = tmp_path / "out.parquet"
    score_table(source, dest, tiny_scorer, BatchOptions(workers=1, chunk_rows=70))
    scored = pd.read_parquet(dest)
    expected = read_output(score_csv_output(dev_csv, tmp_path, tiny_scorer))

    assert len(scored) == len(typed)
    assert list(scored.columns) == [*typed.columns, *OUTPUT_SCORE_COLUMNS]
    assert scored["extra"].tolist() == list(range(len(typed)))
    assert scored["net_weight_kg"].tolist() == typed["net_weight_kg"].tolist()
    np.testing.assert_allclose(scored["risk_score"], expected["risk_score"].astype(float))
    assert scored["decision"].tolist() == expected["decision"].tolist()


def score_csv_output(source: Path, tmp_path: Path, scorer: Scorer) -> Path:
    dest = tmp_path / "reference.csv"
    score_table(source, dest, scorer, BatchOptions(workers=1))
    return dest


def test_http_csv_bytes_match_the_file_output(
    messy_csv: Path, tmp_path: Path, tiny_scorer: Scorer
) -> None:
    chunks = list(score_csv_bytes(tiny_scorer, messy_csv.read_bytes(), chunk_rows=100))
    assert len(chunks) > 2  # streamed, not built whole
    reference = score_csv_output(messy_csv, tmp_path, tiny_scorer)
    assert b"".join(chunks) == reference.read_bytes()


def test_http_csv_bytes_reject_unusable_input_before_any_bytes(tiny_scorer: Scorer) -> None:
    chunks = score_csv_bytes(tiny_scorer, b"id,weight\n1,2\n")
    with pytest.raises(TableError, match="no description column"):
        next(chunks)
    with pytest.raises(ValueError, match="no description column"):
        next(score_csv_bytes(tiny_scorer, b"id,weight\n1,2\n"))


# --- an interrupted run leaves nothing ------------------------------------------------------------


def test_an_interrupted_run_leaves_no_output_and_no_temp_file(
    dev_csv: Path, tmp_path: Path, tiny_scorer: Scorer
) -> None:
    dest = tmp_path / "out" / "scored.csv"
    dest.parent.mkdir()
    dest.write_text("the previous result\n")

    def interrupt(rows: int) -> None:
        raise KeyboardInterrupt

    for workers in (1, 2):
        with pytest.raises(KeyboardInterrupt):
            score_table(
                dev_csv,
                dest,
                tiny_scorer,
                BatchOptions(workers=workers, chunk_rows=50, on_rows=interrupt),
            )
        assert [p.name for p in dest.parent.iterdir()] == ["scored.csv"]
        assert dest.read_text() == "the previous result\n"


def _long_two_worker_run(
    dev_rows: list[list[str]], tmp_path: Path, tiny_registry: Path
) -> tuple[Path, list[str]]:
    """An empty output directory and a `score` command that runs long enough to interrupt,
    saying `rows N` on standard output as it writes (`tests/service/announced_score.py`)."""
    big = write_rows(tmp_path / "big.csv", [dev_rows[0], *dev_rows[1:] * 200])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    command = [sys.executable, "-m", "tests.service.announced_score", str(big)]
    command += ["-o", str(out_dir / "s.csv"), "--models-dir", str(tiny_registry)]
    command += ["--chunk-size", "2000", "--workers", "2"]
    return out_dir, command


def _wait_until_writing(process: subprocess.Popen[str], seconds: float = 30) -> None:
    """Wait for the run's first `rows N` line: it has scored and written rows."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], seconds)
    assert ready, "the run never started writing"
    line = process.stdout.readline()
    assert line.startswith("rows "), f"the run ended before writing anything: {line!r}"


def test_sigterm_leaves_no_output_and_no_temp_file(
    dev_rows: list[list[str]], tmp_path: Path, tiny_registry: Path
) -> None:
    out_dir, command = _long_two_worker_run(dev_rows, tmp_path, tiny_registry)
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_until_writing(process)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0
    assert "interrupted" in stderr
    assert list(out_dir.iterdir()) == []


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _still_running_after(pids: list[int], seconds: float) -> list[int]:
    """Wait for each process to end (a zombie, dead but not yet reaped, has ended); those
    still running at the deadline. A process's pidfd becomes readable when it ends."""
    deadline = time.monotonic() + seconds
    running = []
    for pid in pids:
        try:
            handle = os.pidfd_open(pid)
        except ProcessLookupError:
            continue  # ended and reaped already
        try:
            ready, _, _ = select.select([handle], [], [], max(deadline - time.monotonic(), 0))
        finally:
            os.close(handle)
        if not ready:
            running.append(pid)
    return running


def test_a_killed_run_leaves_a_partial_file_that_the_next_run_removes(
    dev_rows: list[list[str]], tmp_path: Path, tiny_registry: Path
) -> None:
    # Reproduces finding 7: a SIGKILL left 108 MB of .partial that later runs never cleaned.
    out_dir, command = _long_two_worker_run(dev_rows, tmp_path, tiny_registry)
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        _wait_until_writing(process)
        process.kill()
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    (partial,) = out_dir.iterdir()
    assert partial.name.endswith(".partial") and f".{process.pid}." in partial.name
    # Another run's partial file, still being written, is left alone.
    alive = out_dir / partial.name.replace(f".{process.pid}.", f".{os.getpid()}.")
    alive.write_text("in progress")
    rerun = subprocess.run(
        command, check=False, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(["s.csv", alive.name])


@pytest.mark.parametrize("kind", ["device", "fifo", "directory", "link to a device"])
def test_outputs_that_are_not_regular_files_are_refused(
    tmp_path: Path, tiny_registry: Path, dev_csv: Path, kind: str
) -> None:
    # Reproduces finding 7: `-o /dev/full` (or /dev/null as root) was replaced by a file.
    if kind == "device":
        dest = Path("/dev/null")
    elif kind == "fifo":
        dest = tmp_path / "pipe"
        os.mkfifo(dest)
    elif kind == "directory":
        dest = tmp_path / "out"
        dest.mkdir()
    else:
        dest = tmp_path / "link.csv"
        dest.symlink_to("/dev/null")
    before = os.stat(dest).st_mode
    result = runner.invoke(
        app, ["score", str(dev_csv), "-o", str(dest), "--models-dir", str(tiny_registry)]
    )
    assert result.exit_code == 2
    assert "not a file" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert os.stat(dest).st_mode == before
    assert not [p for p in dest.parent.iterdir() if p.name.endswith(".partial")]


def test_a_link_to_a_file_is_written_through(
    tmp_path: Path, tiny_scorer: Scorer, dev_csv: Path
) -> None:
    target = tmp_path / "target.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    score_table(dev_csv, link, tiny_scorer, BatchOptions(workers=1))
    assert link.is_symlink()
    assert len(read_output(target)) == 250


def _small_export(tmp_path: Path, dev_rows: list[list[str]]) -> bytes:
    return write_rows(tmp_path / "small.csv", dev_rows[:40]).read_bytes()


def test_a_fifo_is_read_once(
    tmp_path: Path, tiny_registry: Path, dev_rows: list[list[str]]
) -> None:
    # Reproduces finding 7: input from a FIFO hung (opened three times).
    data = _small_export(tmp_path, dev_rows)
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    opened: list[int] = []

    def feed() -> None:
        with fifo.open("wb") as pipe:
            opened.append(1)
            pipe.write(data)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    dest = tmp_path / "out.csv"
    result = runner.invoke(
        app,
        ["score", str(fifo), "-o", str(dest), "--models-dir", str(tiny_registry), "--workers", "1"],
    )
    feeder.join(timeout=10)
    assert result.exit_code == 0, result.output
    assert opened == [1]
    assert len(read_output(dest)) == 39


@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
def test_standard_input_is_read_once(
    tmp_path: Path, tiny_registry: Path, dev_rows: list[list[str]], name: str
) -> None:
    # Reproduces finding 7: `/dev/stdin` (and `<(cat in.csv)`) gave "header has 0 columns".
    data = _small_export(tmp_path, dev_rows)
    dest = tmp_path / "out.csv"
    command = [sys.executable, "-m", "service.cli", "score", name, "-o", str(dest)]
    command += ["--models-dir", str(tiny_registry), "--workers", "1"]
    process = subprocess.Popen(
        command, cwd=REPO, stdin=subprocess.PIPE, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    _, stderr = process.communicate(data, timeout=120)
    assert process.returncode == 0, stderr.decode()
    assert len(read_output(dest)) == 39
    # The spool it read from is gone with it.
    spools = Path(tempfile.gettempdir()).glob(".parcel-screen-input.*")
    assert not [p for p in spools if f".{process.pid}." in p.name]


def test_partial_files_of_dead_runs_only_are_removed(tmp_path: Path) -> None:
    dest = tmp_path / "out.csv"
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    handle, mine = partial_file(dest)
    handle.close()
    dead = tmp_path / mine.name.replace(f".{os.getpid()}.", f".{child.pid}.")
    dead.write_text("left by a killed run")
    elsewhere = tmp_path / mine.name.replace(f".{os.getpid()}.", f".{child.pid}.").replace(
        f".{dest.name}.", ".other.csv."
    )
    elsewhere.write_text("another destination's")
    assert remove_dead_partials(dest) == [dead]
    assert mine.exists() and elsewhere.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux")
def test_workers_do_not_outlive_a_killed_parent(
    dev_rows: list[list[str]], tmp_path: Path, tiny_registry: Path
) -> None:
    _, command = _long_two_worker_run(dev_rows, tmp_path, tiny_registry)
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    workers: list[int] = []
    try:
        _wait_until_writing(process)  # rows scored: the pool is up
        workers = _children(process.pid)
        assert len(workers) >= 2, f"the pool has {workers}"
        process.kill()  # SIGKILL: the parent gets no chance to shut its pool down
        process.wait(timeout=10)
        outlived = _still_running_after(workers, seconds=10)
        assert not outlived, f"workers {outlived} outlived their parent"
    finally:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)


# --- the command line -------------------------------------------------------------------------


runner = CliRunner()


def test_cli_writes_csv_to_stdout(dev_csv: Path, tiny_registry: Path) -> None:
    result = runner.invoke(
        app,
        ["score", str(dev_csv), "-o", "-", "--models-dir", str(tiny_registry), "--workers", "1"],
    )
    assert result.exit_code == 0, result.stderr
    output = read_output(result.stdout.encode())
    assert len(output) == 250
    assert (output["error"] == "").all()
    summary = result.stderr.strip().splitlines()
    assert len(summary) == 1
    assert summary[0].startswith("250 rows: 250 scored, 0 with errors")
    assert "rows/s" in summary[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"id,weight,price\nRB1,1,2\n", "no description column (columns found: 'id', 'weight'"),
        (b"", "is empty"),
    ],
)
def test_cli_explains_unusable_input_on_one_line(
    content: bytes | None, message: str, tmp_path: Path, tiny_registry: Path
) -> None:
    source = tmp_path / "in.csv"
    if content is not None:
        source.write_bytes(content)
    dest = tmp_path / "out.csv"
    result = runner.invoke(
        app, ["score", str(source), "-o", str(dest), "--models-dir", str(tiny_registry)]
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert lines[0].startswith("parcel-screen: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == (["in.csv"] if content is not None else [])


# --- threshold profiles ---------------------------------------------------------------------


def test_threshold_profile_sets_the_decisions(
    dev_csv: Path, tmp_path: Path, tiny_registry: Path
) -> None:
    card = Registry(tiny_registry).card()
    profiles = card["threshold_profiles"]
    decisions = {}
    for name in ("strict", "lenient"):
        dest = tmp_path / f"{name}.csv"
        result = runner.invoke(
            app,
            [
                *("score", str(dev_csv), "-o", str(dest), "--models-dir", str(tiny_registry)),
                *("--threshold-profile", name, "--workers", "1"),
            ],
        )
        assert result.exit_code == 0, result.stderr
        output = read_output(dest)
        parcel = output["parcel_risk_score"].astype(float)
        review, inspect = profiles[name]["review"], profiles[name]["inspect"]
        clear_of_edges = (abs(parcel - review) > 1e-4) & (abs(parcel - inspect) > 1e-4)
        expected = np.where(
            parcel >= inspect, "inspect", np.where(parcel >= review, "review", "clear")
        )
        random_pick = output["reasons"].str.contains("random_selection")
        agree = (output["decision"] == expected) | (random_pick & (expected == "clear"))
        assert agree[clear_of_edges].all(), name
        decisions[name] = output["decision"]
    flagged = {name: d.isin(["review", "inspect"]).sum() for name, d in decisions.items()}
    assert flagged["strict"] > flagged["lenient"]


def test_unknown_threshold_profile_lists_the_known_ones(tiny_registry: Path) -> None:
    card = Registry(tiny_registry).card()
    with pytest.raises(ThresholdProfileError, match=r"known: default, lenient, strict"):
        scoring_policy(card, profile="paranoid")
    default = scoring_policy(
        {"version": "x", "thresholds": {"review": 0.4, "inspect": 0.8}}, profile="default"
    )
    assert (default.review_threshold, default.inspect_threshold) == (0.4, 0.8)
    assert scoring_policy(review_threshold=0.3).review_threshold == 0.3


def test_cli_rejects_an_unknown_profile(dev_csv: Path, tiny_registry: Path) -> None:
    result = runner.invoke(
        app,
        [
            *("score", str(dev_csv), "-o", "-", "--models-dir", str(tiny_registry)),
            *("--threshold-profile", "paranoid"),
        ],
    )
    assert result.exit_code == 2
    assert "no threshold profile 'paranoid' (known: default, lenient, strict)" in result.stderr


def test_default_workers_use_every_core(dev_csv: Path, tmp_path: Path, tiny_scorer: Scorer) -> None:
    output, summary = run(dev_csv, tmp_path / "out.csv", tiny_scorer, chunk_rows=60)
    single, _ = run(dev_csv, tmp_path / "single.csv", tiny_scorer, workers=1)
    assert len(output) == 250 == summary.rows
    pd.testing.assert_frame_equal(output, single)
