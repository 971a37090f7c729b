"""The page's wiring, without a browser (Streamlit's AppTest): it loads, runs, refuses bad input."""

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

import greatleap.dashboard

APP = str(Path(greatleap.dashboard.__file__).parent / "app.py")


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


@pytest.mark.slow
def test_the_page_runs_history_then_a_moved_lever_and_refuses_a_bad_value():
    app = AppTest.from_file(APP, default_timeout=300)
    app.run()
    assert not app.exception
    first = metrics(app)
    assert first["recall"] == "1960-11"  # the historical recall: the page opens on history
    assert float(first["excess deaths 1959-61 (M)"]) > 5
    # No furnaces: more grain, fewer deaths (the literature's direction).
    app.sidebar.toggle(key="lever:furnaces.enabled").set_value(False)
    app.sidebar.button(key="run").click()
    app.run()
    assert not app.exception
    second = metrics(app)
    assert float(second["excess deaths 1959-61 (M)"]) < float(first["excess deaths 1959-61 (M)"])
    assert float(second["grain 1960 (Mt)"]) > float(first["grain 1960 (Mt)"])
    # A value outside the schema's range is refused with the key and what is allowed; nothing runs.
    app.sidebar.text_area(key="extra").input("procurement.rate=7")
    app.run()
    assert [error.value for error in app.error] == [
        "Refused: procurement.rate: 7 is out of range (allowed: 0.0 <= float <= 1.0)"
    ]
    assert not app.metric
