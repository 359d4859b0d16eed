"""``python -m shared.cli``: the same as the ``wxp`` console script."""

from shared.cli import main

main()
