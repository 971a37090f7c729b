import datetime as dt

import pytest

from greatleap.core.calendar import Calendar


def test_default_calendar_has_72_months_and_knows_dates():
    cal = Calendar.parse("1957-01", "1962-12")
    assert cal.n_months == 72
    assert cal.date(0) == dt.date(1957, 1, 1)
    assert cal.date(71) == dt.date(1962, 12, 1)
    assert (cal.year(13), cal.month(13)) == (1958, 2)
    assert cal.days(13) == 28 and cal.days(37) == 29  # February 1958 and leap February 1960
    assert cal.month_index(1956, 12) == -1


def test_calendar_refuses_to_end_before_it_starts():
    with pytest.raises(ValueError):
        Calendar.parse("1960-01", "1959-12")
