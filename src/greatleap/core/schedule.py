"""Policy schedules: values by month ('YYYY-MM' keys) or by year, as scenario parameters give them."""

from __future__ import annotations

import functools

import numpy as np


def month_key(year: int, month: int) -> int:
    """Months since year 0: comparable and subtractable."""
    return year * 12 + month - 1


@functools.cache
def parse_month(key: str) -> int:
    """'YYYY-MM' -> month key (cached: the schedules are read every month, in every province)."""
    year, month = (int(part) for part in key.split("-"))
    return month_key(year, month)


def interpolate_schedule(schedule: dict[str, float], year: int, month: int) -> float:
    """The value of a monthly schedule at (year, month): linear between listed months, flat outside."""
    if not schedule:
        return 0.0
    points = sorted((parse_month(k), v) for k, v in schedule.items())
    return float(np.interp(month_key(year, month), [p[0] for p in points], [p[1] for p in points]))


def step_schedule(schedule: dict[str, float], year: int, month: int) -> float:
    """A step schedule: the value of the latest listed month at or before (year, month); before the first
    listed month, the first value."""
    now = month_key(year, month)
    points = sorted((parse_month(k), v) for k, v in schedule.items())
    value = points[0][1]
    for key, v in points:
        if key <= now:
            value = v
    return float(value)


def by_year(table: dict[int, float], year: int) -> float:
    """A yearly series at `year`: the nearest listed year (the later one on a tie)."""
    nearest = min(table, key=lambda y: (abs(y - year), -y))
    return float(table[nearest])


def in_window(year: int, month: int, start: str | None, end: str | None) -> bool:
    """True when (year, month) is at or after `start` and before `end` (either may be None: open)."""
    now = month_key(year, month)
    return (start is None or now >= parse_month(start)) and (end is None or now < parse_month(end))
