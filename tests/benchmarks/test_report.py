"""The benchmark report: what `make bench` prints of the written sets."""

from __future__ import annotations

from benchmarks.run import report


def test_written_sets_show_gear_of_new_parties_and_each_parcel_alone() -> None:
    written = {
        "b1_some_gear_set": {
            "use": "blind",
            "parcel-screen": {
                "roc_auc": 0.981,
                "gear_parcels_caught": 0.951,
                "gear_parcels_caught_new_parties": 0.872,
                "gear_parcels_caught_alone": 0.804,
            },
            "watch-list": {"roc_auc": 0.66},
        },
        "o1_ordinary": {"use": "calibration", "parcel-screen": {"benign_parcels_flagged": 0.02}},
    }
    printed = report({"accuracy": {"written": written}})
    header = next(line for line in printed.splitlines() if line.startswith("set"))
    assert "caught, parties new to the set" in header
    assert "caught, each parcel alone" in header
    gear_row = next(line for line in printed.splitlines() if line.startswith("b1_some_gear_set"))
    assert gear_row.split()[-5:-2] == ["0.951", "0.872", "0.804"]
    ordinary_row = next(line for line in printed.splitlines() if line.startswith("o1_ordinary"))
    # No gear: caught, new parties, alone and the watch-list's figures are blank.
    assert ordinary_row.split()[-5:] == ["-"] * 5
