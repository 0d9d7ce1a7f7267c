"""``python -m api.cli``: the `guanxi` console script where it is not on PATH."""

from api.cli.app import main

main()
