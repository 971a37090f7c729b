"""The cost curve: a whole historical run at 1, 2, 4 and 8 communes per province.

Each size runs in its own process (so that its peak memory is its own) and reports person-months per
second and peak memory per person; ratios are against the smallest size measured in the same run, so
they compare like with like on whatever machine runs this. Usage:

    python benchmarks/bench_scale.py [--scales 1 2 4 8] [--end 1962-12] [--seed 1]
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
    args = parser.parse_args()

    rows = [measure(scale, args.end, args.seed) for scale in args.scales]
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
