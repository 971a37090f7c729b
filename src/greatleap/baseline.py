"""The regression baseline: a small historical run's yearly national summary, kept in the repository.

A change that moves results shows up as a failing test (`tests/test_baseline.py`) until the baseline is
regenerated on purpose with

    python -m greatleap.baseline --update

and the change is noted in CHANGELOG.md. A quantity fails only when it is off by more than both its
absolute and its relative tolerance.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from greatleap.scenario import Scenario
from greatleap.sim import Sim

BASELINE_PATH = Path(__file__).resolve().parents[2] / "tests" / "baseline" / "historical_small.json"
OVERRIDES = ["run.scale=1", "run.seed=1"]
# variable -> (absolute tolerance, relative tolerance)
TOLERANCES: dict[str, tuple[float, float]] = {
    "population": (2e6, 0.005),
    "cdr": (0.5, 0.03),
    "cbr": (0.5, 0.03),
    "deaths_starvation": (2e5, 0.05),
    "grain_output_mt": (1.0, 0.01),
    "grain_reported_mt": (1.0, 0.01),
    "procurement_mt": (0.5, 0.02),
    "procurement_ratio": (0.005, 0.02),
    "state_stock_mt": (0.5, 0.03),
    "kcal_per_capita_rural": (10.0, 0.01),
    "steel_backyard_mt": (0.05, 0.02),
    "messhall_share": (0.01, 0.02),
}


def summarise() -> dict[str, dict[str, float]]:
    """{variable: {year: value}} of the small historical run."""
    results = Sim(Scenario.load("historical", OVERRIDES)).run()
    national = results.annual_national()
    return {v: {str(int(y)): float(national.loc[y, v]) for y in national.index} for v in TOLERANCES}


def differences(current: dict, stored: dict) -> list[str]:
    """One line per value outside both tolerances."""
    problems = []
    for variable, (absolute, relative) in TOLERANCES.items():
        for year, expected in stored.get(variable, {}).items():
            actual = current[variable][year]
            off = abs(actual - expected)
            if off > absolute and off > relative * abs(expected):
                problems.append(f"{variable} {year}: {actual:.4g} (baseline {expected:.4g})")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description="Check or regenerate the regression baseline.")
    parser.add_argument("--update", action="store_true", help="write the current results as the new baseline")
    args = parser.parse_args()
    current = summarise()
    if args.update:
        BASELINE_PATH.parent.mkdir(parents=True, exist_ok=True)
        BASELINE_PATH.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {BASELINE_PATH}")
        return
    problems = differences(current, json.loads(BASELINE_PATH.read_text(encoding="utf-8")))
    print("\n".join(problems) if problems else "results match the baseline")


if __name__ == "__main__":
    main()
