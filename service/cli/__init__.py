"""The `parcel-screen` command. Thin: parse, call, print; the work lives in the packages.

One module per group of commands (`scoring`, `training`, `models`, `store`), registered on
the one `app` when this package is imported.
"""

from __future__ import annotations

from service.cli import models, scoring, store, training
from service.cli.apps import app

__all__ = ["app", "main", "models", "scoring", "store", "training"]


def main() -> None:
    app()


if __name__ == "__main__":
    main()
