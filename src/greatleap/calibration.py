"""Calibration: fit the free parameters to the national series with Optuna, and judge the fit.

The loss is a weighted mean of squared relative errors: for each target series `s` (weight `w_s`) and each
year `y` with a recorded value, `e = (simulated - recorded) / recorded`; with `d` the relative distance of
excess deaths 1959-61 outside the demographers' range (0 inside it) and its weight `w_d = 2`, the loss is
`(sum_s w_s * mean_y(e^2) + w_d * d^2) / (sum_s w_s + w_d)`. Relative errors put grain (Mt), death rates
(per mille) and the urban population (persons) on one scale; the weights say which series the model must
get right first (grain and deaths, the famine's cause and toll) and which it should follow (the sown area,
steel, births, the cities).

Optuna's TPE sampler, seeded, proposes `workers` trials at a time (ask/tell), which run on the local process
pool (`greatleap.ensemble`). The first trial is the declared defaults (the priors' centres), whatever the base
scenario holds, so the fit never ends worse than the priors. Fitting a built-in scenario, the free
parameters not being fitted are held at their declared defaults too, so a refit of `historical` does not
depend on the fit it ships; a fit in stages passes the first stage's `fitted.toml` as the base of the next,
which keeps its values. Same seed, trials, scale and workers (the batch size): same fit.

`criteria` checks the issue's acceptance tests on one run: grain within 10% of the record every year
1957-62, steel within 15%, the death rate peaking in 1960 within 20% of the recorded peak, and excess
deaths 1959-61 inside the range of the demographers' estimates (`death_toll_estimates.csv`).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from greatleap import history
from greatleap.compare import excess_deaths
from greatleap.core.data import read_rows
from greatleap.core.io import write_bytes_atomic
from greatleap.core.results import Results
from greatleap.ensemble import Job, run_jobs
from greatleap.free_parameters import FREE_PARAMETERS, FreeParameter
from greatleap.scenario import Scenario, ScenarioSchema, builtin_names

YEARS = tuple(range(1957, 1963))


@dataclass(frozen=True)
class Target:
    """A simulated national annual series fitted to a recorded one."""

    variable: str
    recorded: str
    weight: float
    label: str
    recorded_scale: float = 1.0  # recorded value x scale = the simulated unit
    years: tuple[int, ...] = YEARS

    def record(self) -> dict[int, float]:
        series = history.national(self.recorded)
        return {y: series[y] * self.recorded_scale for y in self.years if y in series}


TARGETS: tuple[Target, ...] = (
    Target("grain_output_mt", "grain_output_official_1980s_vintage", 3.0, "grain output (Mt)"),
    Target("sown_area_mha", "grain_sown_area", 1.0, "grain sown area (Mha)"),
    Target("cdr", "crude_death_rate_banister_adjusted", 2.0, "crude death rate, true (per mille)"),
    Target("steel_modern_mt", "steel_output_official_usable", 1.0, "steel, modern (Mt)"),
    Target("cbr", "crude_birth_rate_banister_adjusted", 0.5, "crude birth rate, true (per mille)"),
    Target("urban_population", "population_urban_yearend", 0.5, "urban population (persons)", recorded_scale=1e4),
)

# Estimates of excess deaths by demographers (census and registration reconstructions), from
# death_toll_estimates.csv; journalists', historians' and the revisionist estimates are left out.
DEMOGRAPHIC_ESTIMATORS = (
    "Houser, Sands & Xiao",
    "Yao",
    "Peng Xizhe",
    "Coale",
    "Ashton, Hill, Piazza & Zeitz",
    "Banister",
    "Cao Shuji",
)


def demographic_range_m() -> tuple[float, float]:
    """The lowest and highest demographic estimate of excess deaths (million)."""
    rows = [r for r in read_rows("death_toll_estimates.csv") if r["estimator"] in DEMOGRAPHIC_ESTIMATORS]
    return min(float(r["deaths_low_million"]) for r in rows), max(float(r["deaths_high_million"]) for r in rows)


def target_values(results: Results) -> dict[str, float]:
    """What calibration needs from a run (a few numbers, sent back by the worker): every target variable
    in every target year as `variable:year`, and excess deaths 1959-61."""
    values = {f"{t.variable}:{y}": results.value(t.variable, y) for t in TARGETS for y in t.years}
    values["excess_deaths"] = excess_deaths(results)
    return values


@dataclass(frozen=True)
class FitRow:
    series: str
    year: int
    simulated: float
    recorded: float

    @property
    def error(self) -> float:
        return (self.simulated - self.recorded) / self.recorded


def fit_rows(values: dict[str, float]) -> list[FitRow]:
    return [
        FitRow(t.variable, y, values[f"{t.variable}:{y}"], recorded)
        for t in TARGETS
        for y, recorded in t.record().items()
    ]


EXCESS_DEATHS_WEIGHT = 2.0  # as much as the death rate: the toll is what the model is for


def excess_deaths_error(values: dict[str, float]) -> float:
    """How far excess deaths 1959-61 lie outside the demographers' range, relative to the bound passed
    (0 inside it)."""
    low, high = demographic_range_m()
    excess = values["excess_deaths"] / 1e6
    return (excess - low) / low if excess < low else (excess - high) / high if excess > high else 0.0


def loss(values: dict[str, float]) -> float:
    """The weighted mean of the squared relative errors (see the module docstring)."""
    rows = fit_rows(values)
    total = EXCESS_DEATHS_WEIGHT * excess_deaths_error(values) ** 2
    for t in TARGETS:
        errors = [r.error**2 for r in rows if r.series == t.variable]
        total += t.weight * sum(errors) / len(errors)
    return total / (sum(t.weight for t in TARGETS) + EXCESS_DEATHS_WEIGHT)


@dataclass(frozen=True)
class Criterion:
    name: str
    passed: bool
    detail: str


def criteria(values: dict[str, float]) -> list[Criterion]:
    """The acceptance tests of the fitted historical run."""
    rows = fit_rows(values)
    out = []
    for variable, recorded, tolerance in (
        ("grain_output_mt", "grain_output_official_1980s_vintage", 0.10),
        ("steel_modern_mt", "steel_output_official_usable", 0.15),
    ):
        errors = {r.year: r.error for r in rows if r.series == variable}
        worst = max(errors, key=lambda y: abs(errors[y]))
        out.append(
            Criterion(
                f"{variable} within {tolerance:.0%} of {recorded} every year 1957-62",
                all(abs(e) <= tolerance for e in errors.values()) and len(errors) == len(YEARS),
                f"worst {worst}: {errors[worst]:+.1%}",
            )
        )
    cdr = {y: values[f"cdr:{y}"] for y in YEARS}
    peak_year = max(cdr, key=cdr.__getitem__)
    recorded = history.national("crude_death_rate_banister_adjusted")
    recorded_peak = max(recorded[y] for y in YEARS)
    off = cdr[peak_year] / recorded_peak - 1.0
    out.append(
        Criterion(
            "crude death rate peaks in 1960 within 20% of Banister's peak",
            peak_year == 1960 and abs(off) <= 0.20,
            f"peak {peak_year} at {cdr[peak_year]:.1f} per mille vs {recorded_peak:.1f} ({off:+.0%})",
        )
    )
    low, high = demographic_range_m()
    excess = values["excess_deaths"] / 1e6
    out.append(
        Criterion(
            f"excess deaths 1959-61 inside the demographers' range {low:g}-{high:g} M",
            low <= excess <= high,
            f"{excess:.1f} M",
        )
    )
    return out


@dataclass
class Calibration:
    """What a calibration produced: every trial's values and loss, and the best one."""

    base: str
    overrides: tuple[str, ...]
    parameters: tuple[FreeParameter, ...]
    trials: list[tuple[dict[str, float], float, dict[str, float]]] = field(default_factory=list)

    @property
    def best(self) -> tuple[dict[str, float], float, dict[str, float]]:
        return min(self.trials, key=lambda trial: trial[1])


def scenario_values(parameters: tuple[FreeParameter, ...], scenario: Scenario) -> dict[str, float]:
    """The free parameters' values in a scenario."""
    return _values(parameters, scenario.to_dict(), clip=False)


def starting_values(parameters: tuple[FreeParameter, ...]) -> dict[str, float]:
    """The free parameters' declared defaults (the first trial), clipped to their ranges. Not the base
    scenario's values: `historical` may ship a fit, and a refit must not depend on the last fit."""
    return _values(parameters, ScenarioSchema().model_dump(), clip=True)


def _values(parameters: tuple[FreeParameter, ...], data: dict, clip: bool) -> dict[str, float]:
    values = {}
    for p in parameters:
        node = data
        for part in p.key.split("."):
            node = node[part] if part in node else node[int(part)]
        values[p.key] = min(max(float(node), p.low), p.high) if clip else float(node)
    return values


def calibrate(
    trials: int,
    base: str = "historical",
    overrides: tuple[str, ...] = (),
    parameters: tuple[FreeParameter, ...] = FREE_PARAMETERS,
    seed: int = 1,
    workers: int = 2,
    on_trial: Callable[[int, float], None] | None = None,
) -> Calibration:
    """Fit `parameters` to the targets with `trials` runs of `base` (+ `overrides`, e.g. the scale)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(trials // 3, 1)))
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.enqueue_trial(starting_values(parameters))
    result = Calibration(base, overrides, parameters)
    if base in builtin_names():  # a refit of a built-in scenario starts from the priors, not from its last fit
        others = tuple(p for p in FREE_PARAMETERS if p not in parameters)
        overrides = (
            *overrides,
            *(p.override(v) for p, v in zip(others, starting_values(others).values(), strict=True)),
        )
    done = 0
    while done < trials:
        batch = [study.ask() for _ in range(min(workers, trials - done))]
        # Values are rounded to the 4 significant digits fitted.toml keeps, so the shipped file reproduces
        # the best trial exactly.
        proposals = [
            {
                p.key: (
                    trial.suggest_int(p.key, int(p.low), int(p.high))
                    if p.integer
                    else float(f"{trial.suggest_float(p.key, p.low, p.high):.4g}")
                )
                for p in parameters
            }
            for trial in batch
        ]
        jobs = [Job(base, (*overrides, *(p.override(values[p.key]) for p in parameters))) for values in proposals]
        outputs = run_jobs(jobs, reduce=target_values, workers=workers)
        for trial, values, output in zip(batch, proposals, outputs, strict=True):
            value = loss(output)
            study.tell(trial, value)
            result.trials.append((values, value, output))
            done += 1
            if on_trial is not None:
                on_trial(done, value)
    return result


# --- writing ------------------------------------------------------------------------------------------------


def fitted_toml(calibration: Calibration, command: str) -> str:
    """Every free parameter's value in the fitted scenario (the fitted ones, and the others as the base
    scenario has them) as TOML sections over the base's built-in root: paste them into
    `scenarios/historical.toml` to ship the fit."""
    best, value, _ = calibration.best
    base = Scenario.load(calibration.base, list(calibration.overrides))
    values = {**scenario_values(FREE_PARAMETERS, base), **best}
    sections: dict[str, list[str]] = {}
    for p in FREE_PARAMETERS:
        section, _, name = p.key.partition(".")
        if "." in name:  # one entry of a mapping
            name, _, entry = name.partition(".")
            line = f"{name}.{entry} = {_number(values[p.key], p.integer)}"
        else:
            line = f"{name} = {_number(values[p.key], p.integer)}"
        sections.setdefault(section, []).append(line)
    lines = [
        f"# Fitted by `{command}`",
        f"# loss {value:.5f} after {len(calibration.trials)} trials (docs/calibration.md explains the loss).",
        f'base = "{_builtin_root(calibration.base)}"',
        "",
    ]
    for section in sorted(sections):
        lines += [f"[{section}]", *sections[section], ""]
    return "\n".join(lines)


def _number(value: float, integer: bool) -> str:
    return str(round(value)) if integer else f"{value:.4g}"


def _builtin_root(name_or_path: str) -> str:
    """The built-in scenario a scenario file derives from (itself if built in)."""
    import tomllib

    seen = 0
    while name_or_path not in builtin_names() and seen < 20:
        name_or_path = tomllib.loads(Path(name_or_path).read_text("utf-8")).get("base") or "historical"
        seen += 1
    return name_or_path


def report_markdown(calibration: Calibration, command: str) -> str:
    """The fit report: the command, the free parameters (start, fitted, range, reason), per series and year
    simulated against recorded, the acceptance criteria."""
    values, value, output = calibration.best
    start_values, start_loss, start_output = calibration.trials[0]
    lines = [
        "# Calibration report",
        "",
        f"Produced by `{command}`: {len(calibration.trials)} trials; loss {start_loss:.5f} at the starting values, "
        f"{value:.5f} fitted.",
        "",
        "## Free parameters",
        "",
        "| parameter | start | fitted | range | why this range |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for p in calibration.parameters:
        lines.append(
            f"| `{p.key}` | {start_values[p.key]:.4g} | {values[p.key]:.4g} | {p.low:g} - {p.high:g} | {p.reason} |"
        )
    lines += [
        "",
        "## Fit by series",
        "",
        "| series | year | recorded | simulated (start) | simulated (fitted) | error (fitted) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    starting = {(r.series, r.year): r for r in fit_rows(start_output)}
    for r in fit_rows(output):
        lines.append(
            f"| `{r.series}` | {r.year} | {_short(r.recorded)} | {_short(starting[(r.series, r.year)].simulated)} "
            f"| {_short(r.simulated)} | {r.error:+.1%} |"
        )
    lines += ["", "## Acceptance criteria (fitted run)", "", "| criterion | passed | detail |", "| --- | --- | --- |"]
    for c in criteria(output):
        lines.append(f"| {c.name} | {'yes' if c.passed else 'no'} | {c.detail} |")
    low, high = demographic_range_m()
    lines += [
        "",
        f"The demographers' range ({low:g}-{high:g} M) spans {', '.join(DEMOGRAPHIC_ESTIMATORS)} "
        "(death_toll_estimates.csv, with sources).",
        "",
    ]
    return "\n".join(lines)


def _short(x: float) -> str:
    return f"{x / 1e6:.1f} M" if abs(x) >= 1e6 else f"{x:.2f}"


def loss_history_csv(calibration: Calibration) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    keys = [p.key for p in calibration.parameters]
    writer.writerow(["trial", "loss", "best_so_far", *keys])
    best = math.inf
    for i, (values, value, _) in enumerate(calibration.trials):
        best = min(best, value)
        writer.writerow([i, f"{value:.6f}", f"{best:.6f}", *(f"{values[k]:.6g}" for k in keys)])
    return buffer.getvalue()


def loss_history_png(calibration: Calibration) -> bytes:
    import matplotlib.pyplot as plt

    from greatleap.report import _png

    losses = [value for _, value, _ in calibration.trials]
    best = [min(losses[: i + 1]) for i in range(len(losses))]
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    ax.plot(range(len(losses)), losses, "o", markersize=3, color="tab:gray", label="trial")
    ax.plot(range(len(best)), best, "-", color="tab:blue", label="best so far")
    ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel("loss (weighted mean squared relative error)")
    ax.set_title("Calibration: loss history")
    ax.legend()
    return _png(fig)


def write_calibration(calibration: Calibration, out_dir: Path, command: str) -> list[Path]:
    """fitted.toml, report.md, loss_history.csv and loss_history.png in `out_dir`, each written atomically."""
    files = {
        "fitted.toml": fitted_toml(calibration, command).encode(),
        "report.md": report_markdown(calibration, command).encode(),
        "loss_history.csv": loss_history_csv(calibration).encode(),
        "loss_history.png": loss_history_png(calibration),
    }
    paths = []
    for name, data in files.items():
        write_bytes_atomic(out_dir / name, data)
        paths.append(out_dir / name)
    return paths


def check(scenario: str = "historical", overrides: tuple[str, ...] = ()) -> list[Criterion]:
    """The acceptance criteria on one run of `scenario` (the full check behind the tests' small ones)."""
    return criteria(run_jobs([Job(scenario, overrides)], reduce=target_values, workers=1)[0])


def main(argv: list[str]) -> int:
    """`python -m greatleap.calibration [SCENARIO] [section.key=value ...]`: print the criteria; exit 1 if any
    fails."""
    scenario = argv[0] if argv and "=" not in argv[0] else "historical"
    results = check(scenario, tuple(a for a in argv if "=" in a))
    for c in results:
        print(f"{'PASS' if c.passed else 'FAIL'}  {c.name}: {c.detail}")
    return 0 if all(c.passed for c in results) else 1


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
