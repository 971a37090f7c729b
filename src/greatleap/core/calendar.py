"""The monthly calendar owned by the engine."""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Calendar:
    """Months from `start` to `end` inclusive, each given as (year, month). Step `t` is month `t`."""

    start_year: int
    start_month: int
    end_year: int
    end_month: int

    def __post_init__(self) -> None:
        if (self.end_year, self.end_month) < (self.start_year, self.start_month):
            raise ValueError("the calendar ends before it starts")

    @classmethod
    def parse(cls, start: str, end: str) -> Calendar:
        """From 'YYYY-MM' strings."""
        (sy, sm), (ey, em) = (tuple(int(p) for p in s.split("-")) for s in (start, end))
        return cls(sy, sm, ey, em)

    @cached_property
    def n_months(self) -> int:
        return (self.end_year - self.start_year) * 12 + (self.end_month - self.start_month) + 1

    def year(self, t: int) -> int:
        return self.start_year + (self.start_month - 1 + t) // 12

    def month(self, t: int) -> int:
        """Month of the year, 1-12."""
        return (self.start_month - 1 + t) % 12 + 1

    def date(self, t: int) -> dt.date:
        """The first day of month `t`."""
        return dt.date(self.year(t), self.month(t), 1)

    def days(self, t: int) -> int:
        return _calendar.monthrange(self.year(t), self.month(t))[1]

    def month_index(self, year: int, month: int) -> int:
        """Step index of (year, month); negative before the start (used for birth months)."""
        return (year - self.start_year) * 12 + (month - self.start_month)

    @cached_property
    def years(self) -> np.ndarray:
        return np.array([self.year(t) for t in range(self.n_months)], dtype=np.int32)

    @cached_property
    def dates(self) -> list[dt.date]:
        return [self.date(t) for t in range(self.n_months)]
