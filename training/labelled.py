"""Labelled declarations as training and measuring read them: an export read through the
scoring reader (messy files accepted) with the history its own parcels make, and the rows of
it that can train."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from training.history import with_history
from training.model import UNKNOWN_GEAR
from training.schema import ERROR_COLUMN


def read_labelled(path: Path) -> pd.DataFrame:
    """A labelled export, normalised, with the history its own parcels make (as the batch
    command counts it); refuses a file that has no usable labels."""
    from training.tables import TableError, read_declarations

    try:
        frame = read_declarations(path)
    except TableError as exc:
        raise ValueError(str(exc)) from exc
    if "label" not in frame.columns or frame["label"].notna().sum() == 0:
        raise ValueError(f"{path}: no usable labels (a `label` column of 0/1 is needed)")
    return with_history(frame, now=history_now(frame))


def history_now(frame: pd.DataFrame) -> datetime:
    """Where an undated parcel of a labelled file sits: after its latest dated parcel, so
    a file reads the same whatever day it is measured on."""
    if "posted_at" not in frame.columns:
        return datetime(2000, 1, 1)
    latest = pd.to_datetime(frame["posted_at"], errors="coerce").max()
    return datetime(2000, 1, 1) if pd.isna(latest) else latest.to_pydatetime()


def usable_labelled_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Rows that can train: valid and labelled. Also counts of what was skipped and why."""
    skipped: dict[str, int] = {}
    errored = frame[ERROR_COLUMN].notna()
    if errored.any():
        skipped["invalid row"] = int(errored.sum())
    unlabelled = frame["label"].isna() & ~errored
    if unlabelled.any():
        skipped["no label"] = int(unlabelled.sum())
    usable = frame[~errored & ~unlabelled].copy()
    usable["label"] = usable["label"].astype(int)
    missing_class = usable["label_class"].isna()
    usable.loc[missing_class, "label_class"] = np.where(
        usable.loc[missing_class, "label"] == 1, UNKNOWN_GEAR, "benign"
    )
    return usable, skipped
