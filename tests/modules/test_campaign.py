"""Politics: prestige falls with the famine; the recall comes at its date, or when prestige runs out."""

import pytest

from greatleap.compare import excess_deaths
from greatleap.compare import recall_date as recall_month
from greatleap.scenario import Scenario
from tests.conftest import run


def test_the_historical_recall_comes_with_the_twelve_articles(historical_run):
    assert str(recall_month(historical_run)) == "1960-11-01"
    prestige = historical_run.series("prestige")
    assert prestige[1957] > 0.99 and prestige[1960] < prestige[1958]
    assert historical_run.value("campaign_intensity", 1962) == 0.0
    # The plan's failures weigh too: the steel target was missed by a growing share in 1959-60.
    missed = historical_run.series("steel_target_missed", frequency="monthly")
    assert max(missed.values()) > 0.2


def test_the_recall_brings_imported_grain(historical_run):
    early = run(Scenario.load("early_retreat", ['run.end="1960-06"']), check=False)
    assert early.value("grain_imports_mt", 1960) > 1.0  # bought from late 1959, not only from 1961
    assert historical_run.value("grain_imports_mt", 1961) > 4.0


def test_endogenous_politics_recall_the_policies_once_the_famine_has_cost_their_prestige():
    results = run(Scenario.load("historical", ['campaign.politics="endogenous"']), check=False)
    month = recall_month(results)
    assert month is not None and 1959 <= month.year <= 1961
    assert results.series("prestige", frequency="monthly")[month] < 0.5


def test_an_early_retreat_after_lushan_saves_lives(historical_run):
    early = run(Scenario.load("early_retreat"), check=False)
    assert str(recall_month(early)) == "1959-08-01"
    assert excess_deaths(early) < 0.7 * excess_deaths(historical_run)
    assert early.value("messhall_share", 1960) < historical_run.value("messhall_share", 1960)
    assert early.value("procurement_ratio", 1960) <= historical_run.value("procurement_ratio", 1960) + 0.02


@pytest.mark.parametrize("bad", ['campaign.politics="divine"', 'campaign.recall_date="soon"'])
def test_bad_politics_settings_are_refused(bad):
    from greatleap.core.errors import ConfigError

    with pytest.raises(ConfigError, match="campaign"):
        Scenario.load("historical", [bad])


def test_a_worse_famine_brings_the_endogenous_recall_earlier():
    base = ['campaign.politics="endogenous"', 'run.end="1961-12"', "run.scale=1"]
    normal = run(Scenario.load("historical", base), check=False)
    worse = run(Scenario.load("historical", [*base, "nutrition.intake_scale=0.9"]), check=False)
    assert recall_month(worse) is not None and recall_month(normal) is not None
    assert recall_month(worse) < recall_month(normal)
