"""Many rows into SQLite in few statements: the writer thread's one speed trick.

`executemany` steps SQLite once per row and lets go of the GIL around each step; the
thread then has to win the GIL back from the request thread each time, up to the
interpreter's switch interval (5 ms) a time under load. A batch of 100 scorings (two
statements each) cost the requests around it far more than the writes themselves: serving
throughput with the store on fell to a third of what it was with the store off (measured,
docs/decisions.md). One statement of many rows lets go of the GIL once per statement.
Rows and results are the same as `executemany`'s (a test pins it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

# SQLite before 3.32 allows 999 parameters a statement; later ones far more.
_MAX_PARAMETERS: Final = 999


def insert_rows(driver: Any, head: str, rows: Sequence[Sequence[Any]], tail: str = "") -> None:
    """`head VALUES (?, ...), (?, ...) tail` for every row, in statements of as many rows
    as the parameter limit allows. `head` names the table and columns; `tail` may hold an
    ON CONFLICT clause."""
    if not rows:
        return
    width = len(rows[0])
    per_statement = max(1, _MAX_PARAMETERS // width)
    one = "(" + ", ".join("?" * width) + ")"
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        values = ", ".join([one] * len(chunk))
        driver.execute(f"{head} VALUES {values}{tail}", [v for row in chunk for v in row])
