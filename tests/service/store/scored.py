"""Scored CSV answers as the CSV endpoint hands them to the audit: Arrow tables of text."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.csv as pa_csv


def scored_table(scored_csv: bytes) -> pa.Table:
    """The rows of a scored CSV answer as a table of strings under its header."""
    text = scored_csv.decode("utf-8")
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    names = header.split(delimiter)
    return pa_csv.read_csv(
        io.BytesIO(scored_csv),
        parse_options=pa_csv.ParseOptions(delimiter=delimiter),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
        ),
    )
