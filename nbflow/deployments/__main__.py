"""``python -m nbflow.deployments RUN_ID``: run one queued deployment run (``trigger --no-wait``)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from nbflow.core.states import State
    from nbflow.deployments.service import run_queued

    if len(argv) != 1:
        print("usage: python -m nbflow.deployments RUN_ID", file=sys.stderr)
        return 2
    record = run_queued(argv[0])
    return 0 if record is None or record.state is State.SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
