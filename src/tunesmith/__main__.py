"""`python -m tunesmith ...`: the same command as `tunesmith ...` (users try both)."""

from tunesmith.cli.main import main

main()
