"""`python -m service.cli`: the `parcel-screen` command."""

from service.cli import main

main()
