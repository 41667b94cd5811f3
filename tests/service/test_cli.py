from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from service.cli import app
from training.registry import Registry
from training.tables import source as table_source

runner = CliRunner()


def test_synth_writes_labelled_contract_csv(tmp_path: Path) -> None:
    out = tmp_path / "synthetic.csv"
    result = runner.invoke(app, ["synth", "--rows", "500", "--seed", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype=str)
    assert len(frame) == 500
    assert {"declaration_id", "description", "label", "label_class"} <= set(frame.columns)
    again = tmp_path / "again.csv"
    runner.invoke(app, ["synth", "--rows", "500", "--seed", "3", "-o", str(again)])
    assert out.read_bytes() == again.read_bytes()


def test_train_registers_a_candidate_and_ensure_default_is_idempotent(tmp_path: Path) -> None:
    models = tmp_path / "models"
    result = runner.invoke(
        app, ["train", "--models-dir", str(models), "--rows", "4000", "--seed", "5"]
    )
    assert result.exit_code == 0, result.output
    registry = Registry(models)
    assert len(registry.versions()) == 1
    assert registry.active_version() is None  # a candidate, not active
    assert "AUC" in result.output and "holdout" in result.output

    result = runner.invoke(
        app, ["models", "ensure-default", "--models-dir", str(models), "--rows", "4000"]
    )
    assert result.exit_code == 0, result.output
    active = registry.active_version()
    assert active is not None and len(registry.versions()) == 2

    result = runner.invoke(app, ["models", "ensure-default", "--models-dir", str(models)])
    assert result.exit_code == 0
    assert f"model {active} is active" in result.output
    assert len(registry.versions()) == 2

    listing = runner.invoke(app, ["models", "list", "--models-dir", str(models)])
    assert active in listing.output
    shown = runner.invoke(app, ["models", "show", active, "--models-dir", str(models)])
    card = json.loads(shown.output)
    assert card["version"] == active
    assert {"review", "inspect"} <= set(card["thresholds"])


def test_train_refuses_a_file_without_labels(tmp_path: Path) -> None:
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text("declaration_id,description,net_weight_kg\nA,vest,8\n")
    result = runner.invoke(
        app, ["train", "--models-dir", str(tmp_path / "m"), "--data", str(unlabelled)]
    )
    assert result.exit_code != 0
    assert "no usable labels" in result.output


def test_unknown_version_is_a_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["models", "show", "1999-01-01.1", "--models-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "not found" in result.output


def test_registry_commands_refuse_untrusted_models_in_one_line(
    tmp_path: Path, tiny_registry: Path
) -> None:
    import shutil

    models = tmp_path / "models"
    shutil.copytree(tiny_registry, models)
    (models / "history.jsonl").unlink()  # as registered before pins were kept
    version = Registry(models).versions()[0]
    source = tmp_path / "in.csv"
    source.write_text("declaration_id,description\nA,socks\n")
    scored = runner.invoke(
        app, ["score", str(source), "-o", str(tmp_path / "out.csv"), "--models-dir", str(models)]
    )
    assert scored.exit_code == 2
    assert "models trust" in scored.output
    assert "Traceback" not in scored.output
    trusted = runner.invoke(app, ["models", "trust", version, "--models-dir", str(models)])
    assert trusted.exit_code == 0, trusted.output
    scored = runner.invoke(
        app, ["score", str(source), "-o", str(tmp_path / "out.csv"), "--models-dir", str(models)]
    )
    assert scored.exit_code == 0, scored.output
    (models / "ACTIVE").write_text("../../etc\n")
    listing = runner.invoke(app, ["models", "list", "--models-dir", str(models)])
    assert listing.exit_code == 0
    assert "does not name a model version" in listing.output


def test_score_with_a_huge_field_prints_one_line(
    tmp_path: Path, tiny_registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reproduces finding 6: a 53-line traceback ("field larger than field limit").
    big = "x" * 200_000
    source = tmp_path / "in.csv"
    source.write_text(
        f"declaration_id,description,note\nA,socks,{big}\nB,{big},n\nC,vest,ok,extra\n"
    )
    dest = tmp_path / "out.csv"
    args = ["score", str(source), "-o", str(dest), "--models-dir", str(tiny_registry)]
    result = runner.invoke(app, [*args, "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    scored = pd.read_csv(dest, dtype=str, keep_default_na=False)
    assert scored["error"].tolist()[0] == ""
    assert "at most 512 characters" in scored["error"].tolist()[1]
    # Even over the raised limit, a field is a row error, not a failed run.
    monkeypatch.setattr(table_source, "MAX_FIELD_CHARS", 1000)
    limit = csv.field_size_limit(1000)
    try:
        result = runner.invoke(app, [*args, "--workers", "1"])
    finally:
        csv.field_size_limit(limit)
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(dest, dtype=str, keep_default_na=False)
    assert "field larger than field limit" in scored["error"].tolist()[0]
    assert scored["declaration_id"].tolist()[2] == "C"


def test_train_with_corpora_learns_written_sets_and_sets_thresholds_on_ordinary_traffic(
    tmp_path: Path,
) -> None:
    corpora = tmp_path / "corpora"
    written = tmp_path / "written.csv"
    runner.invoke(app, ["synth", "--rows", "1500", "--seed", "9", "-o", str(written)])
    frame = pd.read_csv(written, dtype=str, keep_default_na=False)
    gear = frame.groupby("declaration_id")["label"].transform("max") == "1"
    (corpora / "train").mkdir(parents=True)
    (corpora / "calibration").mkdir()
    (corpora / "blind").mkdir()
    frame.iloc[:600].to_csv(corpora / "train" / "some_writer.csv", index=False)
    frame[~gear].iloc[600:].to_csv(corpora / "calibration" / "ordinary.csv", index=False)
    frame.iloc[600:].to_csv(corpora / "blind" / "held_back.csv", index=False)
    models = tmp_path / "models"
    result = runner.invoke(
        app,
        [
            *("train", "--models-dir", str(models), "--rows", "4000", "--seed", "5"),
            *("--corpora", str(corpora), "--written-repeat", "3"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "thresholds set on ordinary parcels of the calibration sets" in result.output
    card = Registry(models).card(Registry(models).versions()[0])
    assert card["training_data"]["written_rows"] == 600
    assert card["training_data"]["written_repeat"] == 3
    written_sets = card["metrics"]["written"]
    # The set learned from is not measured: its figures would judge nothing.
    assert {name: v["use"] for name, v in written_sets.items()} == {
        "held_back": "blind",
        "ordinary": "calibration",
    }
    assert written_sets["ordinary"]["benign_parcels_flagged"] <= 0.02


def test_watchlist_and_history_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCEL_SCREEN_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite3'}")

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output

    code, output = run(
        "watchlist",
        "add",
        "S-9",
        "--role",
        "sender",
        "--reason",
        "tip-off",
        "--expires",
        "2099-01-31",
    )
    assert (code, output.strip()) == (0, "added: S-9 as sender until 2099-02-01 00:00:00")
    code, output = run("watchlist", "add", "S-9", "--role", "carrier", "--reason", "x")
    assert code == 2 and "role: must be sender or recipient" in output
    bad = tmp_path / "bad.csv"
    bad.write_text("party_id,role,reason,expires\nA,sender,x,\nB,sender,,\n", encoding="utf-8")
    code, output = run("watchlist", "import", str(bad))
    assert code == 2 and "row 3, reason" in output and "nothing imported" in output
    good = tmp_path / "good.csv"
    good.write_text("party_id,role,reason,expires\nA,sender,x,\nB,recipient,y,\n", encoding="utf-8")
    assert run("watchlist", "import", str(good)) == (0, f"imported 2 entries from {good}\n")
    code, output = run("watchlist", "list")
    assert code == 0 and "S-9" in output and "B" in output
    code, output = run("history", "show", "S-9")
    assert code == 0 and "0 parcels" in output and "tip-off" in output
    code, output = run("history", "forget", "S-9", "--yes")
    assert code == 0 and "1 watch-list entries removed" in output
    assert run("watchlist", "remove", "S-9")[0] == 1
    assert run("watchlist", "remove", "A") == (0, "removed: A as sender\n")


def test_tables_keep_their_numbers_when_written_to_a_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Out of a terminal (a file, a CI log) the tables are not squeezed into 80 columns:
    every metric of a set with a long name is printed whole."""
    from service.cli.apps import _console
    from service.cli.common import METRIC_COLUMNS, metrics_table

    monkeypatch.delenv("COLUMNS", raising=False)
    console = _console(io.StringIO())
    values = {metric: 0.123 for metric in METRIC_COLUMNS}
    table = metrics_table("model", {"o41_china_post_north_exchanges_fortnight (blind)": values})
    with console.capture() as printed:
        console.print(table)
    assert printed.get().count("0.123") == len(METRIC_COLUMNS)
