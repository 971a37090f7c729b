"""The free parameters: the assumptions that calibration fits and sensitivity analysis varies.

Every other parameter is fixed by a source (a value from `shared/data`, or one derived from it) or is a
policy lever that defines a scenario. A free parameter is an assumption of the model that the record does not
pin down directly but that the national series constrain. Each is declared once here with its prior range
(narrower than the schema's bounds, which only say what is meaningful) and the reason for that range;
`greatleap calibrate` searches the ranges, `greatleap sensitivity` samples them, and `docs/model.md` and
`docs/calibration.md` list them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from greatleap.core.errors import ConfigError


@dataclass(frozen=True)
class FreeParameter:
    """`key` is `section.name` (or `section.name.entry` for one entry of a mapping, e.g. a year)."""

    key: str
    low: float
    high: float
    reason: str
    integer: bool = False

    def override(self, value: float) -> str:
        """The `--set` assignment giving this parameter `value`."""
        return f"{self.key}={round(value) if self.integer else float(value)!r}"


FREE_PARAMETERS: tuple[FreeParameter, ...] = (
    FreeParameter(
        "household_food.access_dispersion",
        0.05,
        0.35,
        "how unequally households reach food decides how many starve at a given national ration; below 0.05 "
        "no one in a commune is much worse off than the rest (no famine at the recorded rations), above 0.35 "
        "a third of households would have twice the access of another third, more than hidden stocks, "
        "relatives and foraging plausibly give",
    ),
    FreeParameter(
        "demography.starvation_steepness",
        2.0,
        6.0,
        "the power of the starvation hazard: below 2 moderate weight loss would already kill (contradicting "
        "the Minnesota volunteers' survival at 24% loss), above 6 almost no one dies before the lethal reserve",
    ),
    FreeParameter(
        "demography.fertility_hunger_onset",
        0.85,
        1.0,
        "the reserve below which conception falls: famine amenorrhea sets in with a loss of 10-15% of body "
        "mass (Frisch & McArthur 1974), i.e. 0.85-0.9; up to 1.0 allows for couples separated by the "
        "campaigns' labour drafts, which the model does not track",
    ),
    FreeParameter(
        "agriculture.harvest_labour_elasticity",
        0.1,
        0.8,
        "grain left in the fields when harvest labour is short (autumn 1958): at 0.1 a halved harvest force "
        "still brings in 93% of the crop, at 0.8 only 57%; accounts of rotting crops lie between",
    ),
    FreeParameter(
        "agriculture.cultivation_elasticity",
        0.2,
        1.0,
        "yield lost to neglected fields; 1 would make yield proportional to field work, which the campaigns' "
        "close planting and deep ploughing show it was not; below 0.2 neglect would cost next to nothing",
    ),
    FreeParameter(
        "agriculture.tool_elasticity",
        0.1,
        0.4,
        "yield lost with the farm tools melted or broken: production-function estimates for Chinese "
        "agriculture give capital shares of 0.1-0.3; up to 0.4 allows for carts, pumps and waterwheels "
        "(draught animals are module `livestock`)",
    ),
    FreeParameter(
        "livestock.hunger_loss_max",
        0.01,
        0.1,
        "herds lost a month when people are desperate: at 0.01 the famine years would cost about a tenth of "
        "the herds, at 0.1 nearly all; the pig stock of 1960 was 43.6% below 1957's (verified)",
    ),
    FreeParameter(
        "livestock.draught_elasticity",
        0.05,
        0.4,
        "land left unploughed for want of animals: the grain sown area stayed 9% below 1957's in 1961-62 "
        "(national_series.csv); at 0.05 a halved herd would cost 3% of the area, at 0.4 a quarter",
    ),
    FreeParameter(
        "livestock.regrowth",
        0.01,
        0.08,
        "how fast herds come back once people are fed (monthly share of the gap): 0.01 takes about six years "
        "to halve the gap, 0.08 under a year; cattle calve once a year, sows litter twice",
    ),
    FreeParameter(
        "furnaces.tool_loss",
        0.02,
        0.12,
        "the share of the tools index melted a month at full drive: at 0.02 the furnace months of 1958 cost "
        "about a tenth of the tools, at 0.12 about half, the range of the accounts of tools and pots "
        "collected for the furnaces",
    ),
    FreeParameter(
        "furnaces.tool_recovery",
        0.005,
        0.05,
        "how fast lost tools are replaced (monthly share): 0.005 takes over ten years, 0.05 about two; the "
        "slow recovery of 1961-62 output bounds it",
    ),
    FreeParameter(
        "labour.effort_egalitarian",
        0.6,
        1.0,
        "effort under free supply relative to work points: 1 means no incentive loss; below 0.6 would halve "
        "output per day, beyond what the fall of 1959-61 output allows",
    ),
    FreeParameter(
        "labour.capacity_zero_reserve",
        0.4,
        0.7,
        "the reserve at which a person can no longer work; below 0.4 is below the lethal reserve, above 0.7 "
        "the Minnesota volunteers (still working at 0.76) would have been near incapacity",
    ),
    FreeParameter(
        "procurement.floor_kg_per_capita_year",
        150.0,
        210.0,
        "grain per rural person the state left (unhusked): 1957 rural consumption was about 200 kg; cadres "
        "under pressure left less (150), the state's own 'subsistence' norms said 180-210, and no floor "
        "above the top of those norms was protected in the famine years",
    ),
    FreeParameter(
        "procurement.emergency_floor_breach",
        0.3,
        1.0,
        "how much of the villages' protected food the centre's calls for the cities took: at 0.3 the cities "
        "would have gone hungry in 1961 (rations of 700 kcal a day in the lean months), which they did not; at "
        "1.0 only the seed was spared, as in the provinces that kept delivering while their people starved",
    ),
    FreeParameter(
        "industry.rush_elasticity",
        0.2,
        1.0,
        "output gained when targets exceed capacity: bounded by the 1958-60 modern steel series, which rose "
        "faster than investment alone allows",
    ),
    FreeParameter(
        "industry.capacity_growth_by_year.1958",
        0.1,
        0.6,
        "modern steel capacity growth in 1958: the investment drive added plants and furnaces to the big "
        "works (at least 10%, the First Five-Year Plan's pace) but not more than the 1958-60 record implies",
    ),
    FreeParameter(
        "industry.capacity_growth_by_year.1959",
        0.1,
        0.6,
        "the same in 1959, when the projects launched in 1958 came on stream",
    ),
    FreeParameter(
        "industry.capacity_growth_by_year.1960",
        0.0,
        0.4,
        "modern steel capacity growth in 1960: investment continued (0.4, the 1958-59 pace) or had begun to stall (0)",
    ),
    FreeParameter(
        "industry.capacity_growth_by_year.1961",
        -0.5,
        0.0,
        "the retrenchment of 1961 (the 'readjustment'): steel output more than halved from 1960 to 1961, "
        "part idled capacity (0), part closed plants (down to -50%)",
    ),
    FreeParameter(
        "industry.capacity_growth_by_year.1962",
        -0.4,
        0.0,
        "the retrenchment of 1962: plants closed and projects stopped (down to -40%) or capacity idled "
        "without closing (0)",
    ),
)


def free_parameter(key: str) -> FreeParameter:
    for parameter in FREE_PARAMETERS:
        if parameter.key == key:
            return parameter
    raise ConfigError(f"{key}: not a free parameter (allowed: {', '.join(p.key for p in FREE_PARAMETERS)})")


def chosen_parameters(keys: Sequence[str] | None = None) -> list[FreeParameter]:
    """The free parameters named by `keys` (default: all), refusing unknown keys, none and repeats."""
    if keys is None:
        return list(FREE_PARAMETERS)
    chosen = [free_parameter(key) for key in keys]
    if not chosen:
        raise ConfigError("--parameters: no parameter given (allowed: free parameter keys separated by commas)")
    repeated = sorted({key for key in keys if list(keys).count(key) > 1})
    if repeated:
        raise ConfigError(f"--parameters: {', '.join(repeated)} named more than once")
    return chosen


def refuse_overrides_of(chosen: Sequence[FreeParameter], assignments: Sequence[str]) -> None:
    """A `--set` on a parameter that is also being varied or fitted would be silently overridden: refuse it."""
    varied = {p.key for p in chosen}
    for assignment in assignments:
        key = assignment.split("=", 1)[0].strip()
        if key in varied:
            raise ConfigError(f"{key}: set with --set and varied by the analysis (fix it or vary it, not both)")
