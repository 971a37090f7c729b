"""Results do not move by accident: the small historical run against the stored baseline.

When a change moves them on purpose: `python -m greatleap.baseline --update`, and a line in CHANGELOG.md.
"""

import json

from greatleap.baseline import BASELINE_PATH, TOLERANCES, differences, summarise


def test_the_small_historical_run_matches_the_stored_baseline():
    stored = json.loads(BASELINE_PATH.read_text(encoding="utf-8"))
    assert set(stored) == set(TOLERANCES)
    problems = differences(summarise(), stored)
    assert not problems, "results moved (update with python -m greatleap.baseline --update):\n" + "\n".join(problems)


def test_the_comparison_fails_only_when_both_tolerances_are_exceeded():
    stored = {"cdr": {"1960": 30.0}}
    assert differences({**{v: {} for v in TOLERANCES}, "cdr": {"1960": 30.4}}, stored) == []  # within 0.5 abs
    assert differences({**{v: {} for v in TOLERANCES}, "cdr": {"1960": 31.0}}, stored) == ["cdr 1960: 31 (baseline 30)"]
