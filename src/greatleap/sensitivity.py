"""Which free parameters matter: Morris elementary effects on excess deaths, grain and steel.

Morris screening rather than Sobol indices because a run costs seconds to minutes: Morris needs
r * (k + 1) runs for k parameters and r trajectories (about 10 per free parameter at r = 10), where Sobol
needs thousands. It ranks the parameters; it does not apportion the variance.

Each trajectory starts at a random point of a grid of `levels` values across every parameter's prior range
(`greatleap.free_parameters`) and moves one parameter at a time by a step of `levels / (2 (levels - 1))` of its
range. The change in an output divided by that step is an elementary effect, in the output's units per whole
range: an effect of 3 M excess deaths means that moving the parameter from the low to the high end of its
range would change excess deaths by about 3 million, were the output linear in it. Over the r trajectories:
- `mu_star`, the mean absolute effect, is the parameter's importance (the ranking uses it);
- `mu_star_conf` is the half-width of its bootstrap 95% confidence interval (few trajectories, wide intervals);
- `mu`, the mean signed effect, gives the direction; `mu` well below `mu_star` means effects of both signs;
- `sigma`, the standard deviation of the effects, is large when the effect depends on where the other
  parameters are (interactions) or is non-linear.

Every run uses the scenario's own seed (common random numbers), so the effects are of the parameters, not of
noise, and the whole analysis is deterministic for a given design seed. One more run at the scenario's own
values (the base run) gives the scale that the figure divides each output's effects by.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from greatleap.compare import excess_deaths
from greatleap.core.errors import ConfigError
from greatleap.core.io import write_bytes_atomic
from greatleap.core.results import Results
from greatleap.ensemble import Job, require_years, run_jobs
from greatleap.free_parameters import FreeParameter, chosen_parameters, refuse_overrides_of
from greatleap.scenario import Scenario

# (name, label, unit) of each output, in the order of the tables and the figure's panels.
OUTPUTS: tuple[tuple[str, str, str], ...] = (
    ("excess_deaths_m", "excess deaths 1959-61", "M"),
    ("grain_output_1960_mt", "grain output 1960", "Mt"),
    ("steel_total_1958_mt", "steel 1958", "Mt"),
)
FILES = ("sensitivity.csv", "sensitivity.md", "sensitivity.png")


def outputs(results: Results) -> dict[str, float]:
    """The three outputs of one run (what a worker sends back)."""
    return {
        "excess_deaths_m": excess_deaths(results) / 1e6,
        "grain_output_1960_mt": results.value("grain_output_mt", 1960),
        "steel_total_1958_mt": results.value("steel_total_mt", 1958),
    }


@dataclass(frozen=True)
class SensitivityRow:
    """One parameter's Morris indices for one output (in the output's units per whole prior range)."""

    parameter: str
    output: str
    mu_star: float
    mu_star_conf: float
    sigma: float
    mu: float
    rank: int  # 1 = the largest mu_star for this output
    base_value: float  # the output in the base run

    @property
    def relative(self) -> float:
        """`mu_star` as a share of the output in the base run (NaN when that is 0)."""
        return self.mu_star / abs(self.base_value) if self.base_value else float("nan")


def problem(parameters: Sequence[FreeParameter]) -> dict:
    """SALib's problem: names and prior ranges."""
    return {
        "num_vars": len(parameters),
        "names": [p.key for p in parameters],
        "bounds": [[p.low, p.high] for p in parameters],
    }


def design(parameters: Sequence[FreeParameter], trajectories: int, levels: int, seed: int) -> np.ndarray:
    """The Morris design: `trajectories * (len(parameters) + 1)` rows of parameter values."""
    from SALib.sample import morris

    return morris.sample(problem(parameters), trajectories, num_levels=levels, seed=seed)


def jobs(base: str, overrides: Sequence[str], parameters: Sequence[FreeParameter], x: np.ndarray) -> list[Job]:
    """The base run, then one run per row of the design (the design's values after the user's overrides)."""
    fixed = tuple(overrides)
    return [Job(base, fixed)] + [
        Job(base, fixed + tuple(p.override(v) for p, v in zip(parameters, row, strict=True))) for row in x
    ]


def analyse(
    parameters: Sequence[FreeParameter],
    x: np.ndarray,
    values: Sequence[dict[str, float]],
    base_values: dict[str, float],
    levels: int,
    seed: int,
) -> list[SensitivityRow]:
    """Morris indices of every parameter for every output, ranked by `mu_star` within each output."""
    from SALib.analyze import morris

    rows = []
    for name, _, _ in OUTPUTS:
        y = np.array([v[name] for v in values], dtype=float)
        si = morris.analyze(problem(parameters), x, y, num_levels=levels, seed=seed)
        order = sorted(range(len(parameters)), key=lambda i: (-float(si["mu_star"][i]), i))
        for rank, i in enumerate(order, 1):
            rows.append(
                SensitivityRow(
                    parameter=parameters[i].key,
                    output=name,
                    mu_star=float(si["mu_star"][i]),
                    mu_star_conf=float(si["mu_star_conf"][i]),
                    sigma=float(si["sigma"][i]),
                    mu=float(si["mu"][i]),
                    rank=rank,
                    base_value=float(base_values[name]),
                )
            )
    return rows


def validate(
    base: str, overrides: Sequence[str], trajectories: int, levels: int, parameters: Sequence[str] | None, workers: int
) -> list[FreeParameter]:
    """Check every input before anything runs; raises ConfigError with one line naming the culprit."""
    if trajectories < 1:
        raise ConfigError(f"--trajectories: {trajectories} is out of range (allowed: an integer >= 1)")
    if levels < 2 or levels % 2:
        raise ConfigError(f"--levels: {levels} is not allowed (allowed: an even integer >= 2)")
    if workers < 1:
        raise ConfigError(f"--workers: {workers} is out of range (allowed: an integer >= 1)")
    chosen = chosen_parameters(parameters)
    refuse_overrides_of(chosen, overrides)
    require_years(Scenario.load(base, list(overrides)), 1957, 1962)
    return chosen


def sensitivity(
    base: str = "historical",
    overrides: Sequence[str] = (),
    trajectories: int = 10,
    levels: int = 4,
    seed: int = 1,
    parameters: Sequence[str] | None = None,
    workers: int = 2,
    on_done: Callable[[int], None] | None = None,
) -> list[SensitivityRow]:
    """Morris indices of the free parameters (`parameters`, default all) for the three outputs, from
    `trajectories * (k + 1)` runs of `base` with `overrides` plus one base run. `on_done(i)` is called as run `i`
    finishes. Deterministic for a given `seed` (the design's; the model's is `run.seed`)."""
    chosen = validate(base, overrides, trajectories, levels, parameters, workers)
    x = design(chosen, trajectories, levels, seed)
    values = run_jobs(jobs(base, overrides, chosen, x), reduce=outputs, workers=workers, on_done=on_done)
    return analyse(chosen, x, values[1:], values[0], levels, seed)


def run_count(trajectories: int, k: int) -> int:
    """Runs of an analysis: the Morris design's and the base run."""
    return trajectories * (k + 1) + 1


def output_label(name: str) -> tuple[str, str]:
    return next((label, unit) for n, label, unit in OUTPUTS if n == name)


def _by_output(rows: Sequence[SensitivityRow]) -> dict[str, list[SensitivityRow]]:
    grouped: dict[str, list[SensitivityRow]] = {}
    for row in sorted(rows, key=lambda r: ([n for n, _, _ in OUTPUTS].index(r.output), r.rank)):
        grouped.setdefault(row.output, []).append(row)
    return grouped


def csv_text(rows: Sequence[SensitivityRow]) -> str:
    buffer = io.StringIO()
    fields = ["output", "rank", "parameter", "mu_star", "mu_star_conf", "sigma", "mu", "base_value", "relative"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for group in _by_output(rows).values():
        for row in group:
            writer.writerow({**asdict(row), "relative": row.relative})
    return buffer.getvalue()


def markdown(rows: Sequence[SensitivityRow], title: str = "") -> str:
    """One table per output, parameters ranked by mu*."""
    lines = [f"# Morris sensitivity{': ' + title if title else ''}", ""]
    lines.append(
        "mu* is the mean absolute elementary effect: the change in the output for a move across the parameter's "
        "whole prior range; sigma the spread of the effects (interactions, non-linearity); mu the signed mean."
    )
    for name, group in _by_output(rows).items():
        label, unit = output_label(name)
        lines += ["", f"## {label} ({unit}; base run {group[0].base_value:.4g})", ""]
        lines += [
            "| rank | parameter | mu* | ± (95%) | sigma | mu | mu* / base |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in group:
            lines.append(
                f"| {r.rank} | `{r.parameter}` | {r.mu_star:.4g} | {r.mu_star_conf:.2g} | {r.sigma:.4g} | "
                f"{r.mu:.4g} | {r.relative:.1%} |"
            )
    return "\n".join(lines) + "\n"


def figure_png(rows: Sequence[SensitivityRow], title: str = "") -> bytes:
    """One panel per output: mu* (bars) and sigma (markers) as shares of the output in the base run."""
    import matplotlib.pyplot as plt

    from greatleap.report import _png  # also selects the Agg backend

    grouped = _by_output(rows)
    k = max(len(g) for g in grouped.values())
    fig, axes = plt.subplots(1, len(grouped), figsize=(5.2 * len(grouped), 1.2 + 0.38 * k), squeeze=False)
    for ax, (name, group) in zip(axes[0], grouped.items(), strict=True):
        label, unit = output_label(name)
        scale = abs(group[0].base_value) or 1.0
        ys = np.arange(len(group))[::-1]
        ax.barh(ys, [100 * r.mu_star / scale for r in group], color="tab:blue", label="mu*")
        ax.errorbar(
            [100 * r.mu_star / scale for r in group],
            ys,
            xerr=[100 * r.mu_star_conf / scale for r in group],
            fmt="none",
            ecolor="black",
            capsize=2,
            label="95% interval",
        )
        ax.plot([100 * r.sigma / scale for r in group], ys, "D", color="tab:red", markersize=4, label="sigma")
        ax.set_yticks(ys, [r.parameter for r in group], fontsize=7)
        base = f"base {group[0].base_value:.3g} {unit}" if group[0].base_value else f"{unit}; base run is 0"
        ax.set_xlabel("% of the base run's value" if group[0].base_value else unit)
        ax.set_title(f"{label} ({base})", fontsize=9)
        ax.set_xlim(left=0)  # mu* >= 0: a confidence interval reaching below 0 says "could be 0"
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Morris sensitivity{': ' + title if title else ''}", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def write_sensitivity(rows: Sequence[SensitivityRow], out_dir: Path, title: str = "") -> list[Path]:
    """Write sensitivity.csv, sensitivity.md and sensitivity.png to `out_dir`, each atomically."""
    out_dir = Path(out_dir)
    contents = dict(
        zip(FILES, (csv_text(rows).encode(), markdown(rows, title).encode(), figure_png(rows, title)), strict=True)
    )  # everything made before anything is written
    for name, data in contents.items():
        write_bytes_atomic(out_dir / name, data)
    return [out_dir / name for name in FILES]
