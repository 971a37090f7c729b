"""`python -m greatleap` is the `greatleap` command."""

from greatleap.cli import main

main()
