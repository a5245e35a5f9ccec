"""``python -m scalinglab``: the same as the ``scalinglab`` command."""

from scalinglab.cli import main

main()
