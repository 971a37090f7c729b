"""Facts carry sources: every shipped data row names its source and keeps a verification status."""

import csv
import re
from pathlib import Path

import pytest

from greatleap import history
from greatleap.core.data import data_path, provinces, read_rows
from greatleap.output import DATA_FILES

STATUSES = {
    "verified",
    "verified_1dp",
    "partly_verified",
    "derived",
    "derived_from_verified",
    "unverified",
    "unverified_recall",
    "estimated",
}
FILES = DATA_FILES


@pytest.mark.parametrize("name", FILES)
def test_every_row_has_a_source_and_a_known_status(name):
    with data_path(name).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for row in rows:
        assert row["source"].strip(), f"{name}: a row without a source: {row}"
        assert row["status"] in STATUSES, f"{name}: unknown status {row['status']!r}"


@pytest.mark.parametrize("name", ["national_series.csv", "death_toll_estimates.csv"])
def test_files_copied_from_shared_data_are_identical(name):
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / name
    if not shared.exists():
        pytest.skip("shared/data is not beside this checkout")
    assert data_path(name).read_bytes() == shared.read_bytes()


def test_provinces_sum_to_the_national_1957_totals():
    units = provinces()
    assert sum(p.population for p in units) / 1e6 == pytest.approx(646.53, rel=0.001)  # NBS year-end 1957
    assert sum(p.grain_output_t for p in units) / 1e6 == pytest.approx(195.05, rel=0.001)  # official, unhusked
    assert sum(p.urban_population for p in units) / 1e6 == pytest.approx(99.49, rel=0.01)
    assert sum(p.cultivated_land_ha for p in units) / 1e6 == pytest.approx(111.8, rel=0.02)
    for p in units:
        assert 0 < p.urban_share < 1 and 100 < p.grain_per_capita_kg < 1000, p.code
        assert set(p.provenance) == {"population", "urban_share", "grain_output", "cultivated_land"}


def test_history_reads_numeric_series_with_their_sources():
    cdr = history.national("crude_death_rate_official")
    assert cdr[1960] == 25.43 and cdr[1957] == 10.8
    detail = history.national_detail("crude_death_rate_banister_adjusted")[1960]
    assert detail.value == 44.6 and detail.status == "verified" and "Banister" in detail.source
    assert history.national("no_such_series") == {}


def test_no_global_random_state_anywhere_in_the_package():
    """Randomness only from named streams: no np.random.<function> calls, no `random` module."""
    package = Path(__file__).resolve().parents[1] / "src" / "greatleap"
    allowed = {"Generator", "SeedSequence", "PCG64"}
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"np\.random\.(\w+)", text):
            assert match.group(1) in allowed, f"{path.name} uses np.random.{match.group(1)}"
        assert not re.search(r"^\s*(import random|from random import)", text, re.M), path.name


def test_the_parameter_tables_in_the_model_docs_are_current():
    """docs/model.md stays true: regenerate with `python -m greatleap.paramdoc docs/model.md`."""
    from greatleap.paramdoc import rewrite

    doc = Path(__file__).resolve().parents[1] / "docs" / "model.md"
    text = doc.read_text(encoding="utf-8")
    assert rewrite(text) == text, "stale parameter tables: run python -m greatleap.paramdoc docs/model.md"


def test_added_series_carry_sources_and_repeat_nothing_shared():
    shared = {(row["variable"], row["year"]) for row in read_rows("national_series.csv")}
    added = read_rows(history.ADDED_FILE)
    assert added and all(row["source"] and row["status"] == "verified" for row in added)
    assert not shared & {(row["variable"], row["year"]) for row in added}
    cbr = history.national("crude_birth_rate_banister_adjusted")
    assert cbr[1957] == 43.3 and cbr[1960] == 26.8  # Banister 1984 Table 5
