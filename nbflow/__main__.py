"""``python -m nbflow`` is the ``nbflow`` command."""

from nbflow.cli.main import main

main()
