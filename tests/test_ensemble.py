import pytest

from greatleap.core.errors import ConfigError
from greatleap.core.results import Results
from greatleap.ensemble import Job, require_years, run_jobs, seeds
from greatleap.scenario import Scenario

TINY = ("run.scale=1", 'run.end="1957-03"')


def deaths_and_population(results: Results) -> tuple[float, float]:
    return results.value("deaths", 1957), results.value("population", 1957)


def test_jobs_come_back_in_order_and_do_not_depend_on_the_number_of_workers():
    jobs = [Job("historical", (*TINY, f"run.seed={seed}")) for seed in seeds(3, 3)]
    alone = run_jobs(jobs, reduce=deaths_and_population, workers=1)
    pooled = run_jobs(jobs, reduce=deaths_and_population, workers=2)
    assert alone == pooled
    assert len(set(alone)) == 3  # three seeds, three different outcomes
    done = []
    run_jobs(jobs[:2], reduce=deaths_and_population, workers=2, on_done=done.append)
    assert sorted(done) == [0, 1]


def test_every_job_is_validated_before_any_runs():
    with pytest.raises(ConfigError, match=r"nutrition\.intake_scale"):
        run_jobs([Job("historical", TINY), Job("historical", ("nutrition.intake_scale=9",))], workers=2)


def test_a_window_missing_the_years_a_command_reads_is_refused():
    require_years(Scenario.load("historical"), 1957, 1962)
    with pytest.raises(ConfigError, match="does not cover 1957-1962"):
        require_years(Scenario.load("historical", ['run.end="1961-12"']), 1957, 1962)
    with pytest.raises(ConfigError, match="does not cover"):
        require_years(Scenario.load("historical", ['run.start="1958-01"']), 1957, 1962)
