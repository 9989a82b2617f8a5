"""Start-up: a fresh process that imports nbflow, opens an existing store and materialises one asset.

    .venv/bin/python benchmarks/startup.py                  # 9 runs of each, interleaved; importtime top 15
    .venv/bin/python benchmarks/startup.py --runs 15 --top 25

A SQLite home is created and brought up to date first (one run outside the timing). Then,
interleaved, fresh interpreters run ``python -c "pass"`` and the whole user story below,
timed from spawn to exit (whole-process wall), medians:

    import nbflow as nf
    @nf.asset
    def one() -> int: return 1
    nf.materialize("one", force=True)     # opens the existing store, writes the value, commits

Then once with ``python -X importtime`` it lists the modules with the largest cumulative import
time (top level imports only, the ones a user pays for) and whether alembic was loaded, which
an up-to-date store should not need. Target (issue 17): at most 0.3 s whole-process.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

TARGET = 0.3
STORY = """
import sys
import nbflow as nf

@nf.asset
def one() -> int:
    return 1

r = nf.materialize("one", force=True)
assert r.ok, r.states
if "--modules" in sys.argv:
    print(" ".join(m for m in ("alembic", "sqlalchemy", "rich", "click") if m in sys.modules))
"""


def wall(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="nbflow-startup-")
    env = {**os.environ, "NBFLOW_HOME": home}
    env.pop("NBFLOW_DATABASE_URL", None)
    py = sys.executable
    story = [py, "-c", STORY]
    subprocess.run(story, env=env, check=True)  # creates and migrates the store
    times: dict[str, list[float]] = {"pass": [], "story": []}
    for _ in range(args.runs):
        times["pass"].append(wall([py, "-c", "pass"], env))
        times["story"].append(wall(story, env))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"whole process, medians of {args.runs} interleaved runs:")
    print(f"  python -c pass                              {med['pass']:.3f} s")
    print(f"  import + open store + materialise one asset {med['story']:.3f} s "
          f"({', '.join(f'{x:.3f}' for x in times['story'])}); target <= {TARGET} s")
    loaded = subprocess.run([*story, "--modules"], env=env, check=True, capture_output=True, text=True)
    print(f"  loaded by the story: {loaded.stdout.strip() or '(none of alembic, sqlalchemy, rich, click)'}")
    out = subprocess.run([py, "-X", "importtime", "-c", STORY], env=env, check=True,
                         capture_output=True, text=True).stderr
    rows = []
    for line in out.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m[2]), len(m[3]) // 2, m[4]))
    top = sorted((r for r in rows if r[1] == 0), reverse=True)[: args.top]
    print(f"\n-X importtime, top-level imports by cumulative time (of {sum(r[0] for r in rows if r[1] == 0) / 1e3:.0f} ms):")
    for us, _, name in top:
        print(f"  {us / 1e3:8.1f} ms  {name}")
    packages: dict[str, int] = {}
    for us, _, name in rows:
        if "." not in name:
            packages[name] = max(packages.get(name, 0), us)
    print("packages (any depth, cumulative, the first import of each):")
    for name, us in sorted(packages.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {us / 1e3:8.1f} ms  {name}")
    alembic = [r for r in rows if r[2] == "alembic" or r[2].startswith("alembic.")]
    print(f"alembic imported: {'yes, ' + format(max(r[0] for r in alembic) / 1e3, '.1f') + ' ms' if alembic else 'no'}")
    return 0 if med["story"] <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
