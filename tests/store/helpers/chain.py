"""Materialise a chain of assets in its own process, for the store's crash and concurrency tests.

    python chain.py --prefix a --length 20 [--block 7] [--barrier DIR] [--exit-now]

Settings (store URL, home, heartbeats) come from the NBFLOW_* variables. Every call of an asset
function appends its name to ``$CALLS``. With ``--block K`` the K-th asset writes
``$CALLS.blocked`` and then waits forever (the test kills the process). With ``--barrier DIR``
the process writes ``DIR/ready.<pid>`` and starts only once ``DIR/go`` exists. ``$STEP_SLEEP``
seconds of sleep in each step slow a chain down. The result
(run id and states) is printed as one JSON line; ``--exit-now`` leaves with ``os._exit(0)``
right after ``materialize`` returns, skipping every atexit handler.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from nbflow.core.registry import Registry
from nbflow.core.specs import make_asset
from nbflow.session import Session
from nbflow.settings import Settings

CALLS = Path(os.environ["CALLS"])


STEP_SLEEP = float(os.environ.get("STEP_SLEEP", "0"))


def called(name: str, block: bool) -> None:
    with CALLS.open("a") as f:
        f.write(name + "\n")
    time.sleep(STEP_SLEEP)
    if block:
        CALLS.with_suffix(".blocked").write_text(str(os.getpid()))
        while True:
            time.sleep(3600)


def chain(prefix: str, length: int, block: int) -> Registry:
    reg = Registry()
    for i in range(length):
        name = f"{prefix}{i}"
        up = f"{prefix}{i - 1}" if i else ""
        source = (f"def {name}({up}):\n"
                  f"    called({name!r}, {i == block})\n"
                  f"    return {'0' if not i else up + ' + 1'}\n")
        scope: dict[str, object] = {"called": called}
        exec(source, scope)  # noqa: S102 - a chain needs one parameter name per step
        reg.add(make_asset(scope[name], name=name, code_version="1"))  # type: ignore[arg-type]
    return reg


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", default="a")
    ap.add_argument("--length", type=int, required=True)
    ap.add_argument("--block", type=int, default=-1)
    ap.add_argument("--barrier", default=None)
    ap.add_argument("--exit-now", action="store_true")
    args = ap.parse_args()
    session = Session(Settings.resolve(), chain(args.prefix, args.length, args.block))
    if args.barrier:
        barrier = Path(args.barrier)
        (barrier / f"ready.{os.getpid()}").touch()
        while not (barrier / "go").exists():
            time.sleep(0.005)
    result = session.materialize("*")
    print(json.dumps({"run_id": result.run_id, "state": str(result.state),
                      "states": {k: str(v) for k, v in result.states.items()}}), flush=True)
    if args.exit_now:
        os._exit(0)
    session.close()
    sys.exit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
