# The two commands: `make run` (set up, then run the historical scenario) and `make test` (set up, then
# run every test). Both create .venv when it is missing and (re)install the project when pyproject.toml
# changes.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
PYTEST_ARGS ?= -n 2
# The browser tests drive Debian's chromium (never `playwright install`: it downloads a browser, which fails
# in a closed network); `make test` installs it when it is missing.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test bench lint clean calibrate check-fit dashboard

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	$(VENV)/bin/greatleap run

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

test: $(TEST_STAMP) $(CHROMIUM)
	$(PY) -m pytest $(PYTEST_ARGS)

# The policy lab in the browser, at http://127.0.0.1:8501.
dashboard: $(TEST_STAMP)
	$(VENV)/bin/greatleap dashboard

bench: $(RUN_STAMP)
	$(PY) benchmarks/bench_scale.py
	$(PY) benchmarks/bench_kernels.py

# Refit the free parameters (about half an hour on 2 cores) and refresh the fit report: the food system's
# and demography's jointly (the steel plan's held at their declared defaults), then the steel plan's (which
# touch nothing but industry) on top of that fit. To ship a fit, copy
# runs/calibration/steel/fitted.toml's sections into src/greatleap/scenarios/historical.toml.
FOOD_PARAMETERS := household_food.access_dispersion,demography.starvation_steepness,demography.fertility_hunger_onset,agriculture.harvest_labour_elasticity,agriculture.cultivation_elasticity,agriculture.tool_elasticity,furnaces.tool_loss,furnaces.tool_recovery,livestock.hunger_loss_max,livestock.draught_elasticity,livestock.regrowth,labour.effort_egalitarian,labour.capacity_zero_reserve,procurement.floor_kg_per_capita_year,procurement.emergency_floor_breach
STEEL_PARAMETERS := industry.rush_elasticity,industry.capacity_growth_by_year.1958,industry.capacity_growth_by_year.1959,industry.capacity_growth_by_year.1960,industry.capacity_growth_by_year.1961,industry.capacity_growth_by_year.1962
CALIBRATION_HEADER := The fit shipped in src/greatleap/scenarios/historical.toml, written by \`make calibrate\`: first the food system's and demography's free parameters, then the steel plan's on top. What the fit misses, and why, is in docs/model.md, section 8.
calibrate: $(RUN_STAMP)
	$(VENV)/bin/greatleap calibrate --trials 60 --seed 1 --parameters $(FOOD_PARAMETERS) --out runs/calibration/all
	$(VENV)/bin/greatleap calibrate --scenario runs/calibration/all/fitted.toml --parameters $(STEEL_PARAMETERS) \
		--trials 40 --seed 1 --out runs/calibration/steel
	{ printf '%s\n\n' "$(CALIBRATION_HEADER)"; cat runs/calibration/all/report.md runs/calibration/steel/report.md; } \
		> docs/calibration.md

# The acceptance criteria of the shipped historical scenario, on the default run (exit 1 if one fails).
check-fit: $(RUN_STAMP)
	$(PY) -m greatleap.calibration

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) build runs .pytest_cache .ruff_cache .hypothesis
