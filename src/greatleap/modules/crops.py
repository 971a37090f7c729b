"""The crop calendar shared by the food-system modules (a helper, not a mechanism)."""

from __future__ import annotations

SUMMER_HARVEST, AUTUMN_HARVEST = 6, 10  # June and October
HARVEST_MONTHS = (SUMMER_HARVEST, AUTUMN_HARVEST)


def months_to_next_harvest(month: int) -> int:
    """Months of food a stock must cover from the start of `month` until the next harvest (inclusive of
    this month; a harvest month itself counts the months until the following harvest)."""
    for offset in range(1, 13):
        if (month - 1 + offset) % 12 + 1 in HARVEST_MONTHS:
            return offset
    raise AssertionError("no harvest month")
