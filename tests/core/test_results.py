import numpy as np
import pytest

from greatleap.core.calendar import Calendar
from greatleap.core.module import Recorder, ResultSpec
from greatleap.core.results import Results

SPECS = {
    "population": ("m", ResultSpec("population", "stock", "persons", "")),
    "deaths": ("m", ResultSpec("deaths", "flow", "persons", "")),
    "cdr": ("m", ResultSpec("cdr", "ratio", "per mille", "", numerator="deaths", denominator="population", scale=1000)),
    "hidden": ("m", ResultSpec("hidden", "stock", "", "", public=False)),
}


def results_from(population: np.ndarray, deaths: np.ndarray) -> Results:
    calendar = Calendar.parse("1957-01", "1958-12")
    recorder = Recorder(calendar.n_months, SPECS)
    for code in ("AA", "BB"):
        recorder.add_province(code)
        recorder.values[code][:, recorder.recorded.index("population")] = population
        recorder.values[code][:, recorder.recorded.index("deaths")] = deaths
    return Results.from_recorder(recorder, calendar)


def test_annual_values_stocks_at_december_flows_summed_ratios_from_sums():
    population = np.linspace(1000, 1230, 24)
    deaths = np.full(24, 2.0)
    deaths[12:] = 3.0
    results = results_from(population, deaths)
    assert results.value("population", 1957, "AA") == pytest.approx(population[11])
    assert results.value("population", 1958, "CN") == pytest.approx(2 * population[23])
    assert results.value("deaths", 1958, "CN") == pytest.approx(2 * 36.0)
    assert results.value("cdr", 1957, "BB") == pytest.approx(1000 * 24.0 / population[:12].mean())
    # Monthly ratios are annualised: a month's flow x 12 over the month's stock.
    monthly = results.series("cdr", "AA", frequency="monthly")
    assert next(iter(monthly.values())) == pytest.approx(1000 * 2.0 * 12 / population[0])


def test_intermediate_series_are_not_published():
    results = results_from(np.ones(24), np.zeros(24))
    assert "hidden" not in set(results.annual.column("variable").to_pylist())
    assert set(results.annual.column("province").to_pylist()) == {"CN", "AA", "BB"}
    assert results.annual.column_names == ["year", "province", "variable", "value"]
    assert results.monthly.column_names == ["date", "province", "variable", "value"]


def test_recording_an_undeclared_or_foreign_result_is_refused():
    recorder = Recorder(2, SPECS)
    with pytest.raises(KeyError, match="undeclared"):
        recorder.record("other_module", None, 0, "deaths", np.zeros(1))
    with pytest.raises(KeyError, match="ratio"):
        recorder.record("m", None, 0, "cdr", np.zeros(1))


def test_a_province_total_is_recorded_as_it_is_without_commune_weights():
    recorder = Recorder(2, SPECS)

    class Shard:  # the two attributes the recorder reads
        code = "AA"
        commune_weight = np.array([7.0, 9.0])

    recorder.add_province("AA")
    recorder.record_total("m", Shard, 0, "deaths", 123.0)
    recorder.record("m", Shard, 1, "deaths", np.array([1.0, 1.0]))
    column = recorder.recorded.index("deaths")
    assert recorder.values["AA"][:, column].tolist() == [123.0, 16.0]
