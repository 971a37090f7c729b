"""The cost curve: a whole historical run at 1, 2, 4 and 8 communes per province.

Each size runs in its own process (so that its peak memory is its own) and reports person-months per
second and peak memory per person; ratios are against the smallest size measured in the same run, so
they compare like with like on whatever machine runs this. Usage:

    python benchmarks/bench_scale.py [--scales 1 2 4 8] [--end 1962-12] [--seed 1] [--full-provinces NX GS]

`--full-provinces` adds single provinces at full scale (every commune and person), the step from the sample
towards the whole country.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, sys, time
from greatleap.scenario import Scenario
from greatleap.sim import Sim
scale, end, seed = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sim = Sim(Scenario.load("historical", [f"run.scale={scale}", f'run.end="{end}"', f"run.seed={seed}"]))
sim.run()
info = sim.info
print(json.dumps({
    "scale": scale, "persons": info.persons_initial, "person_months": info.person_months,
    "seconds": info.wall_seconds, "peak_bytes": info.peak_memory_bytes,
    "state_bytes_per_person": info.state_bytes_per_person,
    "phases": {phase: seconds for phase, _, seconds in info.phase_seconds},
}))
"""


FULL_PROVINCE_CHILD = """
import json, sys, time
from greatleap.scenario import Scenario
from greatleap.sim import build_engine, peak_memory_bytes, world_summary
code, end, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
scenario = Scenario.load("historical", ['run.scale="full"', f'run.end="{end}"', f"run.seed={seed}"])
started = time.perf_counter()
engine = build_engine(scenario, codes=[code])
built = time.perf_counter()
world = world_summary(engine.shards)
person_months = [0]
engine.run(lambda t: person_months.__setitem__(0, person_months[0] + engine.shards[0].persons.count))
print(json.dumps({
    "scale": f"full {code}", "persons": int(world["persons"]), "person_months": person_months[0],
    "seconds": time.perf_counter() - built, "build_seconds": built - started, "peak_bytes": peak_memory_bytes(),
    "state_bytes_per_person": world["state_bytes"] / world["persons"],
    "phases": {phase: seconds for phase, _, seconds in engine.plan_rows()},
}))
"""


def measure_full_province(code: str, end: str, seed: int) -> dict:
    """One province at full scale (every commune and person), alone in its own process, on one thread: the
    province phases without the others' (the nation phases run on its aggregates alone)."""
    out = subprocess.run(
        [sys.executable, "-c", FULL_PROVINCE_CHILD, code, end, str(seed)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(scale: int, end: str, seed: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(scale), end, str(seed)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--end", default="1962-12")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--full-provinces", nargs="*", default=[], metavar="CODE", help="also run these provinces at full scale"
    )
    args = parser.parse_args()

    rows = [measure(scale, args.end, args.seed) for scale in args.scales]
    rows += [measure_full_province(code, args.end, args.seed) for code in args.full_provinces]
    base = rows[0]
    base_rate = base["person_months"] / base["seconds"]
    header = (
        f"{'communes/prov':>13} {'persons':>11} {'seconds':>8} {'M person-months/s':>18} {'ratio':>6} "
        f"{'peak MiB':>9} {'peak B/person':>13} {'state B/person':>14}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        rate = row["person_months"] / row["seconds"]
        print(
            f"{row['scale']:>13} {row['persons']:>11,} {row['seconds']:>8.2f} {rate / 1e6:>18.2f} "
            f"{rate / base_rate:>6.2f} {row['peak_bytes'] / 2**20:>9.0f} {row['peak_bytes'] / row['persons']:>13.0f} "
            f"{row['state_bytes_per_person']:>14.0f}"
        )
    print(f"\nratio: throughput relative to {base['scale']} commune(s) per province, measured in this run")
    phases = rows[-1]["phases"]
    total = sum(phases.values())
    print(
        f"phases at {rows[-1]['scale']} communes/province: "
        + ", ".join(f"{name} {100 * seconds / total:.0f}%" for name, seconds in phases.items())
    )


if __name__ == "__main__":
    main()
