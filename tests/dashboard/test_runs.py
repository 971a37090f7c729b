"""Runs asked for by the page: validated, capped in size, cached."""

import pytest

from greatleap.core.errors import ConfigError
from greatleap.dashboard import runs


def test_a_size_beyond_about_a_minute_is_refused_by_the_request_itself():
    largest = runs.largest_page_size()
    assert runs.estimated_seconds(largest) <= runs.PAGE_LIMIT_SECONDS < runs.estimated_seconds(largest + 1)
    runs.page_run([], largest)  # accepted
    with pytest.raises(ConfigError, match=rf"^run\.scale: {largest + 1} communes per province would take about"):
        runs.page_run([], largest + 1)
    with pytest.raises(ConfigError, match=r"^run\.scale: 0 is not allowed \(allowed: 1 to "):
        runs.page_run([], 0)


def test_a_bad_override_is_refused_with_its_key_and_what_is_allowed():
    with pytest.raises(ConfigError, match=r"procurement\.rate: 7 is out of range \(allowed: 0\.0 <= float <= 1\.0\)"):
        runs.page_run(["procurement.rate=7"], 1)
    with pytest.raises(ConfigError, match=r"^procurement\.no_such_key: unknown key"):
        runs.page_run(["procurement.no_such_key=1"], 1)


def test_the_same_levers_run_once(monkeypatch):
    request = runs.page_run(['run.end="1957-03"'], 1)
    monkeypatch.setattr(runs, "_cache", runs.OrderedDict())
    seen = []
    first = runs.run(request, lambda done, total: seen.append((done, total)))
    assert seen[-1] == (3, 3)  # progress reaches the last month
    assert runs.cached(request) is first
    assert runs.run(runs.page_run(['run.end="1957-03"'], 1)) is first  # equal request, no new run
    other = runs.run(runs.page_run(['run.end="1957-03"', "run.seed=2"], 1))
    assert other is not first
