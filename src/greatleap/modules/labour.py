"""Labour allocation: each rural commune's able-bodied days split between the fields and the campaigns.

Each month a commune's able-bodied persons (ages `working_age_min`-`working_age_max`) offer
`workdays_per_month` days each, times their working capacity, which falls with their energy reserve (the
food-labour feedback: a starving person cannot work). Campaign sectors claim days first through the shared
interface (`ProvinceShard.labour_claims`, sector -> person-days per commune): water conservancy (this
module's own claim, by the `conservancy_share` schedule), deep ploughing (agriculture), and later the
furnaces and state enterprises. Campaign claims are granted up to `max_campaign_share` of the days on
offer; the fields get what they need of the rest.

Effort per day depends on the incentive regime and the size of the accounting unit: under `egalitarian`
supply (the free supply of the communes, from `egalitarian_from` to `egalitarian_until`) effort falls to
`effort_egalitarian`; larger units invite free-riding, effort x (unit households / 30) ^ -elasticity (Lin
1990: the loss of the exit right turned a repeated game into a one-shot one).
"""

from __future__ import annotations

import numpy as np

from greatleap.core import kernels
from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import MONTH, ParamSection, param
from greatleap.core.schedule import in_window, interpolate_schedule, step_schedule
from greatleap.core.state import StateSpec
from greatleap.core.world import ProvinceShard, class_attributes

CONSERVANCY = "conservancy"


class LabourParams(ParamSection):
    working_age_min: int = param(
        16,
        ge=10,
        le=20,
        unit="years",
        description="youngest able-bodied age",
        source="assumption: full labour power (全劳力) from about 16",
    )
    working_age_max: int = param(
        59, ge=45, le=75, unit="years", description="oldest able-bodied age", source="assumption"
    )
    workdays_per_month: float = param(
        26.0,
        ge=10.0,
        le=31.0,
        unit="days",
        description="days a person can work",
        source="assumption: rest days and bad weather",
    )
    capacity_full_reserve: float = param(
        0.9,
        ge=0.7,
        le=1.0,
        description="energy reserve at and above which a person works at full capacity",
        source="assumption: working capacity falls with body mass (Keys et al. 1950: sharp fall in work output "
        "at ~25% weight loss)",
        status="assumption",
    )
    capacity_zero_reserve: float = param(
        0.5,
        ge=0.3,
        le=0.9,
        description="energy reserve at which a person can no longer work",
        source="assumption (see capacity_full_reserve)",
        status="assumption",
    )
    conservancy_share: dict[str, float] = param(
        {
            "1957-09": 0.0,
            "1957-10": 0.10,
            "1957-11": 0.22,
            "1957-12": 0.28,
            "1958-01": 0.34,
            "1958-03": 0.3,
            "1958-05": 0.05,
            "1958-10": 0.1,
            "1959-03": 0.1,
            "1959-05": 0.0,
            "1959-10": 0.15,
            "1960-03": 0.15,
            "1960-05": 0.0,
        },
        description="share of able-bodied days claimed by water-conservancy projects, by month (linear between)",
        source="derived for Oct 1957-Jan 1958: food_system.csv water_conservancy_labour 30, 65, 80 and 100 million "
        "persons (verified) over the ~290 million rural persons aged 16-59 of the 1957 population; the spring of "
        "1958 and the later winters are assumptions",
        status="derived",
    )
    max_campaign_share: float = param(
        0.7,
        ge=0.0,
        le=1.0,
        description="ceiling on the share of days that campaign claims can take",
        source="assumption: the fields were never emptied completely",
    )
    egalitarian_from: str = param(
        "1958-09",
        pattern=MONTH,
        description="month from which communes supply food regardless of work (free supply)",
        source="organisation.csv: communes established Aug-Oct 1958 (verified)",
        status="verified",
    )
    egalitarian_until: str = param(
        "1961-06",
        pattern=MONTH,
        description="month in which work points return (the Sixty Articles)",
        source="organisation.csv: Sixty Articles 1961 (partly verified)",
        status="partly_verified",
    )
    effort_egalitarian: float = param(
        0.9,
        ge=0.3,
        le=1.0,
        description="effort per day under egalitarian supply, relative to work points",
        source="assumption after Lin 1990 JPE (model_results.csv): the productivity collapse after autumn 1958",
        status="assumption",
    )
    unit_households: dict[str, float] = param(
        {"1957-01": 160.0, "1958-09": 4600.0, "1961-03": 200.0, "1962-01": 30.0},
        description="households in the accounting unit by month (cooperative, commune, brigade, team)",
        source="organisation.csv: ~740,000 cooperatives merged into communes in 1958; food_system.csv: the "
        "accounting unit moved from the commune (1958) to the brigade (1961) to the team (1962), verified",
        status="partly_verified",
    )
    free_riding_elasticity: float = param(
        0.02,
        ge=0.0,
        le=0.3,
        description="effort falls as (unit households / 30) to this negative power",
        source="assumption",
        status="assumption",
    )


def days_on_offer_reference(
    person_class: np.ndarray,
    household: np.ndarray,
    alive: np.ndarray,
    reserve: np.ndarray,
    injured_until: np.ndarray,
    t: int,
    able_bodied: np.ndarray,
    capacity_zero_reserve: np.float32,
    capacity_span: np.float32,
    workdays: np.float32,
    n_households: int,
) -> np.ndarray:
    """Days each household's members can work this month (numpy reference of the compiled kernel): the
    living able-bodied who are not injured (`injured_until` <= t; empty: no injuries), each at their working
    capacity, which rises linearly from 0 at `capacity_zero_reserve` to 1 at that plus `capacity_span`."""
    capacity = np.clip((reserve - capacity_zero_reserve) / capacity_span, 0.0, 1.0)
    weights = np.take(able_bodied, person_class) * capacity * alive * workdays
    if injured_until.size:
        weights = weights * (injured_until <= t)
    return np.bincount(household, weights=weights, minlength=n_households)


def days_on_offer_compiled(*arguments) -> np.ndarray:
    """`days_on_offer_reference` compiled (`_days_on_offer_kernel`), its household sums in `kernels.scratch`."""
    return _days_on_offer_kernel(*arguments, kernels.scratch(arguments[-1]))


@kernels.jit
def _days_on_offer_kernel(
    person_class,
    household,
    alive,
    reserve,
    injured_until,
    t,
    able_bodied,
    capacity_zero_reserve,
    capacity_span,
    workdays,
    n_households,
    days,
):
    """`days_on_offer_reference` in one pass, with the same float32 products (compiled), into `days`; each
    row asks for the household line it will add to `kernels.PREFETCH_AHEAD` rows ahead (at full scale, 4.0-4.4
    ns a row without, 2.4-3.0 with, over Beijing's rows of June 1959 repeated nine times)."""
    zero = np.float32(0.0)
    one = np.float32(1.0)
    days[:] = 0.0
    injuries = injured_until.size > 0
    for i in range(reserve.size):
        kernels.prefetch_ahead(days, household, i, 1)
        capacity = min(max((reserve[i] - capacity_zero_reserve) / capacity_span, zero), one)
        weight = able_bodied[np.uint16(person_class[i])] * capacity * np.float32(alive[i]) * workdays
        if injuries:
            weight = weight * np.float32(injured_until[i] <= t)
        days[np.uint32(household[i])] += weight  # unsigned: see kernels.jit
    return days


class Labour(Module):
    """Able-bodied days on offer, campaign claims, field work and effort per commune."""

    name = "labour"
    Params = LabourParams
    params: LabourParams
    states = (
        StateSpec("labour_days_available", "commune", "float64", 0.0, "able-bodied person-days on offer"),
        StateSpec("labour_days_fields", "commune", "float64", 0.0, "person-days worked in the fields"),
        StateSpec("labour_effective_fields", "commune", "float64", 0.0, "field days times effort"),
        StateSpec("labour_days_campaigns", "commune", "float64", 0.0, "person-days taken by campaign claims"),
        StateSpec(
            "work_intensity",
            "commune",
            "float32",
            1.0,
            "days worked (fields and campaigns) over the field days of an average 1957 month",
        ),
        StateSpec("work_points_in_force", "commune", "bool", True, "distribution still answers to work"),
        StateSpec("labour_days", "household", "float32", 0.0, "able-bodied days the household offers a month"),
    )
    results = (
        ResultSpec("labour_days_available", "flow", "person-days", "able-bodied days on offer", public=False),
        ResultSpec("labour_days_fields", "flow", "person-days", "days worked in the fields"),
        ResultSpec("labour_days_conservancy", "flow", "person-days", "days worked on water conservancy"),
        ResultSpec("labour_days_campaigns", "flow", "person-days", "days taken by every campaign claim"),
        ResultSpec("labour_effort_days", "flow", "person-days", "field days times effort", public=False),
        ResultSpec(
            "labour_share_fields",
            "ratio",
            "share",
            "share of days on offer worked in the fields",
            numerator="labour_days_fields",
            denominator="labour_days_available",
        ),
        ResultSpec(
            "labour_share_conservancy",
            "ratio",
            "share",
            "share of days on offer on water conservancy",
            numerator="labour_days_conservancy",
            denominator="labour_days_available",
        ),
        ResultSpec(
            "labour_effort",
            "ratio",
            "",
            "mean effort per field day (1 = work points in a small unit)",
            numerator="labour_effort_days",
            denominator="labour_days_fields",
        ),
    )

    def able_bodied_table(self) -> np.ndarray:
        """Per person class: 1 for rural able-bodied ages, else 0 (computed once)."""
        table = getattr(self, "_able_bodied", None)
        if table is None:
            age, _, urban = class_attributes()
            p = self.params
            table = ((age >= p.working_age_min) & (age <= p.working_age_max) & (urban == 0)).astype(np.float32)
            self._able_bodied = table
        return table

    def days_on_offer(self, shard: ProvinceShard, t: int) -> np.ndarray:
        """Able-bodied days per commune this month, at each person's working capacity (and per household,
        into `labour_days`, the basis of work points)."""
        persons, households = shard.persons, shard.households
        p = self.params
        injured_until = persons.injured_until if "injured_until" in persons.names else np.zeros(0, np.int8)
        days = days_on_offer_compiled if kernels.compiled() else days_on_offer_reference
        households.labour_days[:] = days(
            shard.person_class(t),
            persons.household,
            persons.alive,
            persons.energy_reserve,
            injured_until,
            t,
            self.able_bodied_table(),
            np.float32(p.capacity_zero_reserve),
            np.float32(p.capacity_full_reserve - p.capacity_zero_reserve),
            np.float32(p.workdays_per_month),
            households.count,
        )
        return shard.per_commune(households.labour_days)

    def egalitarian(self, year: int, month: int) -> bool:
        """Free supply: food regardless of work (effort falls; distributions stop following work points)."""
        p = self.params
        return in_window(year, month, p.egalitarian_from, p.egalitarian_until)

    def effort(self, year: int, month: int) -> float:
        p = self.params
        base = p.effort_egalitarian if self.egalitarian(year, month) else 1.0
        unit = step_schedule(p.unit_households, year, month)
        return base * (unit / 30.0) ** (-p.free_riding_elasticity)

    def init(self, shard: ProvinceShard, ctx: StepContext) -> None:
        offer = self.days_on_offer(shard, 0)
        shard.communes.labour_days_available[:] = offer

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        p = self.params
        communes = shard.communes
        rural = ~communes.is_urban
        offer = self.days_on_offer(shard, ctx.t)
        share = interpolate_schedule(p.conservancy_share, ctx.year, ctx.month)
        claims = dict(shard.labour_claims)
        claims[CONSERVANCY] = claims.get(CONSERVANCY, 0.0) + share * offer * rural
        total_claimed = sum(claims.values())
        ceiling = p.max_campaign_share * offer
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(total_claimed > ceiling, ceiling / np.maximum(total_claimed, 1e-12), 1.0)
        granted = {sector: claim * scale for sector, claim in claims.items()}
        campaign_days = sum(granted.values()) * np.ones(communes.count)
        field_demand = communes.field_labour_demand  # set by agriculture for this month
        field_days = np.minimum(np.maximum(offer - campaign_days, 0.0), field_demand) * rural
        effort = self.effort(ctx.year, ctx.month)

        communes.labour_days_available[:] = offer
        communes.labour_days_fields[:] = field_days
        communes.labour_effective_fields[:] = field_days * effort
        communes.labour_days_campaigns[:] = campaign_days
        with np.errstate(divide="ignore", invalid="ignore"):
            intensity = np.where(
                communes.normal_field_days > 0, (field_days + campaign_days) / communes.normal_field_days, 1.0
            )
        communes.work_intensity[:] = np.where(rural, intensity, 1.0)
        communes.work_points_in_force[:] = not self.egalitarian(ctx.year, ctx.month)
        shard.labour_granted.clear()
        shard.labour_granted.update(granted)
        shard.labour_claims.clear()

        ctx.record("labour_days_available", offer * rural)
        ctx.record("labour_days_fields", field_days)
        ctx.record("labour_days_conservancy", granted[CONSERVANCY])
        ctx.record("labour_days_campaigns", campaign_days)
        ctx.record("labour_effort_days", field_days * effort)
