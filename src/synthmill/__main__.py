"""`python -m synthmill` is the same as the `synthmill` command."""

from synthmill.cli import main

main()
