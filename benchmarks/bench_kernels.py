"""Do the compiled kernels pay? The numpy reference against the numba kernels, measured in the same run.

1. Whole historical runs, each in its own process: the numpy reference on one thread (the baseline), the
   numba kernels on one thread, and the numba kernels on two threads. Ratios are against the baseline;
   the phases that call kernels are shown side by side (numpy and numba, one thread). This is the measure
   that decides whether a kernel pays: inside a run, caches are cold and numpy's temporaries cost more.
2. Each kernel alone on the largest province after a year of simulation: the best of several calls of the
   numpy reference against the best of the compiled kernel (already compiled), and their ratio. These are
   warm-cache best cases, kinder to numpy than a run is.
3. Prefetching: the household sum (`kernels.group_sum`) over a full-scale-sized province whose rows are in
   household order but for a few percent moved elsewhere (as births and movers leave them between
   December compactions), with `kernels.prefetch_ahead` against the same loop without it (the baseline).

Usage:

    python benchmarks/bench_kernels.py [--scale 2] [--end 1962-12] [--repeat 7] [--prefetch-rows 23000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

CHILD = """
import json, sys
from greatleap.scenario import Scenario
from greatleap.sim import Sim
scale, end, threads = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sim = Sim(Scenario.load("historical", [f"run.scale={scale}", f'run.end="{end}"']), threads=threads)
results = sim.run()
info = sim.info
print(json.dumps({"seconds": info.wall_seconds, "person_months": info.person_months, "kernels": info.kernels,
                  "threads": info.threads, "deaths": float(results.annual_national()["deaths"].sum()),
                  "phases": {phase: seconds for phase, _, seconds in info.phase_seconds}}))
"""


# The phases whose modules call a kernel (or the shard's sums, which every phase uses).
KERNEL_PHASES = ("labour", "industry", "mess halls and distribution", "consumption and nutrition", "demography")


def whole_run(scale: int, end: str, backend: str, threads: int) -> dict:
    environment = {**os.environ, "GREATLEAP_KERNELS": backend}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(scale), end, str(threads)],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def best_seconds(call: Callable[[], object], repeat: int) -> float:
    call()  # compiled (or loaded from the cache) before timing
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def kernel_pairs(scale: int) -> tuple[int, list[tuple[str, Callable, Callable]]]:
    """(persons, [(kernel, numpy call, compiled call)]) on the largest province after a simulated year."""
    from greatleap.core import kernels
    from greatleap.modules import demography, labour, nutrition
    from greatleap.scenario import Scenario
    from greatleap.sim import Sim

    sim = Sim(Scenario.load("historical", [f"run.scale={scale}", 'run.end="1957-12"']))
    engine = sim.build()
    sim.run()
    shard = max(engine.shards, key=lambda s: s.persons.count)
    persons, households = shard.persons, shard.households
    t = 11
    by_name = {m.name: m for m in engine.modules()}
    # The food eaten is a transient state, held only within its month's stretch: hold it again and hand out
    # December's meals (mess halls, then household food) as the engine's stretch does.
    shard.hold([s.for_run(engine.calendar.n_months) for m in engine.modules() for s in m.states if s.transient])
    ctx = engine._province_ctx[shard.code]
    ctx.t = t
    for name in ("messhalls", "household_food"):
        ctx.module = by_name[name]
        by_name[name].step(shard, ctx)
    person_class = shard.person_class(t)

    nut = by_name["nutrition"]
    tables = nut.class_tables()

    def balance(function):
        arguments = (
            person_class,
            persons.household,
            persons.alive,
            persons.energy_reserve.copy(),
            households.commune,
            nut._intensity(shard),
            households.food_kcal_per_day.astype(np.float64),
            *(tables[name] for name in nutrition.BALANCE_TABLES),
            *nut._constants(),
            False,
            31 / nut.params.kcal_per_kg_tissue,
            nut.params.reserve_max,
            np.float32(nutrition.UNDERNOURISHED_RESERVE),
            shard.household_bounds(),
            np.empty(households.count, dtype=np.float32),
        )
        return lambda: function(*arguments)

    lab = by_name["labour"]
    lp = lab.params
    days_arguments = (
        person_class,
        persons.household,
        persons.alive,
        persons.energy_reserve,
        persons.injured_until,
        t,
        lab.able_bodied_table(),
        np.float32(lp.capacity_zero_reserve),
        np.float32(lp.capacity_full_reserve - lp.capacity_zero_reserve),
        np.float32(lp.workdays_per_month),
        households.count,
    )
    dem, dem_params = by_name["demography"].class_tables(), by_name["demography"].params
    deaths_arguments = (
        person_class,
        persons.household,
        households.commune,
        persons.alive,
        persons.energy_reserve,
        dem["hazard"],
        False,
        np.float32(dem_params.starvation_onset),
        dem["vulnerability"],
        np.float32(dem_params.starvation_onset - dem_params.lethal_reserve),
        dem_params.starvation_steepness,
    )

    def pregnancy_arguments() -> tuple:
        """The scan's arguments, with a fresh copy of the due months (it clears those due at `t`)."""
        due = persons.pregnancy_due_month.copy()
        by_group = np.empty((shard.communes.count, 4))
        fertile, groups = dem["fertile"], dem["age_group"]
        return (persons.alive, due, t, fertile, person_class, persons.household, households.commune, groups, by_group)

    bounds = shard.household_bounds()
    values = np.random.default_rng(2).random(households.count)

    def with_backend(name: str, call: Callable) -> Callable:
        def run() -> object:
            with kernels.use(name):  # type: ignore[arg-type]
                return call()

        return run

    def person_classes() -> object:
        shard.extra.pop("person_class", None)
        return shard.person_class(t)

    pairs = [
        ("energy balance", balance(nutrition.energy_balance_reference), balance(nutrition.energy_balance_compiled)),
        (
            "labour days on offer",
            lambda: labour.days_on_offer_reference(*days_arguments),
            lambda: labour.days_on_offer_compiled(*days_arguments),
        ),
        (
            "the death draw's line of hazards",
            lambda: demography.hazard_line_reference(*deaths_arguments),
            lambda: demography.hazard_line_compiled(*deaths_arguments),
        ),
        (
            "births, women who may conceive, counts by age group",
            lambda: demography.pregnancies_reference(*pregnancy_arguments()),
            lambda: demography.pregnancies_compiled(*pregnancy_arguments()),
        ),
        ("person classes", with_backend("numpy", person_classes), with_backend("numba", person_classes)),
        (
            "sum by household",
            with_backend("numpy", lambda: shard.sum_by_household(persons.energy_reserve)),
            with_backend("numba", lambda: shard.sum_by_household(persons.energy_reserve)),
        ),
        (
            "sum by commune (households)",
            with_backend("numpy", lambda: kernels.segment_sum(bounds, values, households.commune)),
            with_backend("numba", lambda: kernels.segment_sum(bounds, values, households.commune)),
        ),
    ]
    return persons.count, pairs


def prefetch_pair(rows: int, moved_share: float) -> tuple[Callable, Callable]:
    """The household sum without and with the prefetch, over a household column of `rows` persons (4.5 per
    household) in household order but for `moved_share` of rows pointing anywhere."""
    import numba

    from greatleap.core import kernels

    rng = np.random.default_rng(1959)
    n_households = int(rows / 4.5)
    household = np.sort(rng.integers(0, n_households, rows)).astype(np.int32)
    moved = rng.random(rows) < moved_share
    household[moved] = rng.integers(0, n_households, np.count_nonzero(moved))
    weights = rng.random(rows)

    @numba.njit(nogil=True, error_model="numpy")
    def without_prefetch(group, weights, out):  # `kernels._group_sum`'s loop, less the prefetch
        out[:] = 0.0
        for i in range(group.size):
            out[np.uint32(group[i])] += weights[i]
        return out

    out = np.empty(n_households)
    plain = lambda: without_prefetch(household, weights, out)  # noqa: E731
    prefetched = lambda: kernels._group_sum(household, weights, out)  # noqa: E731
    if plain().tobytes() != kernels._group_sum(household, weights, np.empty(n_households)).tobytes():
        raise SystemExit("the prefetch changed a household sum")
    return plain, prefetched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=2, help="communes per province (2 = the default sample)")
    parser.add_argument("--end", default="1962-12")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--prefetch-rows", type=int, default=23_000_000, help="rows of the prefetch measure")
    parser.add_argument("--only-prefetch", action="store_true", help="measure the prefetch only")
    args = parser.parse_args()
    if not args.only_prefetch:
        measure_kernels(args)
    print(f"\nHousehold sums over {args.prefetch_rows:,} rows, best of {args.repeat} calls:")
    print("| rows moved out of household order | without prefetch ns/row | with prefetch ns/row | speed-up |")
    print("|---|---|---|---|")
    for moved_share in (0.0, 0.04, 0.10):
        plain, prefetched = prefetch_pair(args.prefetch_rows, moved_share)
        slow, fast = best_seconds(plain, args.repeat), best_seconds(prefetched, args.repeat)
        per_row = 1e9 / args.prefetch_rows
        print(f"| {moved_share:.0%} | {slow * per_row:.2f} | {fast * per_row:.2f} | {slow / fast:.2f} |")


def measure_kernels(args: argparse.Namespace) -> None:
    """Sections 1 and 2: whole runs with either backend, and each kernel alone."""

    configurations = [("numpy", 1), ("numba", 1), ("numba", 2)]
    runs = [whole_run(args.scale, args.end, backend, threads) for backend, threads in configurations]
    base = runs[0]["seconds"]
    print(f"Whole historical runs at {args.scale} communes per province to {args.end}, one process each:")
    print("| kernels | threads | seconds | M person-months/s | speed-up | deaths (same in every run) |")
    print("|---|---|---|---|---|---|")
    for (backend, threads), row in zip(configurations, runs, strict=True):
        rate = row["person_months"] / row["seconds"] / 1e6
        print(
            f"| {backend} | {threads} | {row['seconds']:.1f} | {rate:.2f} | {base / row['seconds']:.2f} "
            f"| {row['deaths']:.6g} |"
        )
    if len({row["deaths"] for row in runs}) != 1:
        raise SystemExit("the runs differ: the kernels or the threads changed a result")
    print("\nPhases that call kernels, one thread (seconds over the run):")
    print("| phase | numpy | numba | speed-up |")
    print("|---|---|---|---|")
    for phase in KERNEL_PHASES:
        slow, fast = runs[0]["phases"][phase], runs[1]["phases"][phase]
        print(f"| {phase} | {slow:.2f} | {fast:.2f} | {slow / fast:.2f} |")

    persons, pairs = kernel_pairs(args.scale)
    print(f"\nEach kernel alone, largest province ({persons:,} person rows), best of {args.repeat} calls:")
    print("| kernel | numpy ms | numba ms | ns/person (numba) | speed-up |")
    print("|---|---|---|---|---|")
    for name, reference, compiled in pairs:
        slow, fast = best_seconds(reference, args.repeat), best_seconds(compiled, args.repeat)
        print(f"| {name} | {slow * 1e3:.3f} | {fast * 1e3:.3f} | {fast / persons * 1e9:.2f} | {slow / fast:.1f} |")


if __name__ == "__main__":
    main()
