"""`python -m api.cli`: the same as the `placement` script."""

from api.cli import main

main()
