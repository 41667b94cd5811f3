"""An extra check on the contract's own labelled sample, which sits beside the repository
when there is one: it reads whole and clean, with the labels it is known to hold.

Run by `make check-shared` (the sample's path is the first argument). It is kept out of
the test suite, which needs nothing beside the repository; asked for, a missing sample is
a failure, not a skip.
"""

from __future__ import annotations

import sys
from pathlib import Path

from training.tables import read_declarations

DEFAULT_PATH = Path("../shared/data/dev_declarations.csv")
# What the contract's sample holds: 250 item rows, 89 of them labelled gear.
EXPECTED_ROWS = 250
EXPECTED_GEAR = 89


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT_PATH
    if not path.is_file():
        print(f"{path}: no such file (the contract's sample is not beside the repository)")
        return 2
    frame = read_declarations(path)
    errors = int(frame["error"].notna().sum())
    gear = int(frame["label"].sum())
    problems = []
    if len(frame) != EXPECTED_ROWS:
        problems.append(f"{len(frame)} rows, not {EXPECTED_ROWS}")
    if errors:
        problems.append(f"{errors} rows with errors")
    if gear != EXPECTED_GEAR:
        problems.append(f"{gear} rows labelled gear, not {EXPECTED_GEAR}")
    if problems:
        print(f"{path}: " + "; ".join(problems))
        return 1
    print(f"{path}: {len(frame)} rows, all read clean, {gear} labelled gear")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
