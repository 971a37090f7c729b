"""The campaign: national pressure over time and the radicalism of each province's leadership.

The Great Leap was pushed by a national campaign whose intensity rose and fell: launched in spring and
summer 1958, cooled at the Zhengzhou conferences in the winter of 1958-59, renewed with the
anti-rightist drive after the Lushan conference (August 1959), and wound down in the retreat of late 1960
and 1961 (shared/data/organisation.csv). Until the politics issue makes it endogenous, the intensity
follows the `schedule` parameter: a value in [0, 1] per month, linear between the months given.

Provincial leaders answered to it differently. Kung & Chen (2011) find that provinces whose first
secretary was an alternate member of the 8th Central Committee procured about 3 percentage points more
than those led by full members; `radicalism` turns each province's first secretary's rank
(`provincial_leaders.csv`) into a multiplier of the pressure felt there. The 'fear' after the Lushan purge
of Peng Dehuai raises the pressure on cadres from `fear_from` on.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import numpy as np
from pydantic import Field

from greatleap.core.data import read_rows
from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import MONTH, ParamSection, param
from greatleap.core.schedule import interpolate_schedule, month_key, parse_month
from greatleap.core.state import StateSpec
from greatleap.core.world import Nation

_SCHEDULE_SOURCE = (
    "organisation.csv: Beidaihe resolution Aug 1958; Lushan conference Jul-Aug 1959 and the anti-right-deviation "
    "campaign; Emergency Directive 3 Nov 1960; Sixty Articles 1961 (dates verified); the levels are assumptions"
)
HISTORICAL_SCHEDULE = {
    "1957-01": 0.0,
    "1957-09": 0.1,  # the winter 1957-58 water-conservancy drive
    "1958-02": 0.5,
    "1958-08": 1.0,  # Beidaihe: communes, steel doubling
    "1958-11": 1.0,
    "1959-02": 0.6,  # Zhengzhou conferences: cooling
    "1959-07": 0.5,
    "1959-09": 1.0,  # after Lushan: anti-right-deviation campaign
    "1960-06": 0.8,
    "1960-11": 0.3,  # Emergency Directive (Twelve Articles)
    "1961-06": 0.1,  # Sixty Articles: the retreat
    "1962-02": 0.0,  # Seven Thousand Cadres Conference
}


class CampaignParams(ParamSection):
    politics: Literal["historical", "endogenous"] = Field(
        "historical",
        description="when the leadership recalls the policies: at `recall_date` (historical) or when its prestige "
        "falls below `recall_threshold` (endogenous)",
        json_schema_extra={"source": "policy lever; historical = history", "unit": ""},
    )
    recall_date: str = param(
        "1960-11",
        pattern=MONTH,
        description="month of the recall under historical politics",
        source="organisation.csv: Emergency Directive (Twelve Articles) of 3 Nov 1960 (verified)",
        status="verified",
    )
    recall_threshold: float = param(
        0.5,
        ge=0.0,
        le=1.0,
        description="prestige below which the leadership recalls the policies (endogenous)",
        source="assumption",
        status="assumption",
    )
    outcry_per_mille: float = param(
        0.15,
        ge=0.0,
        le=10.0,
        description="prestige lost a month per starvation death per 1000 persons in the month before (annualised)",
        source="assumption: visible famine and outcry erode the leadership's prestige",
        status="assumption",
    )
    target_failure_weight: float = param(
        0.2,
        ge=0.0,
        le=2.0,
        description="prestige lost each December per unit of the year's steel target missed (1 - good steel / target)",
        source="assumption: the plan's failures, visible in the cities and the party, weigh on the leadership",
        status="assumption",
    )
    prestige_recovery: float = param(
        0.02,
        ge=0.0,
        le=1.0,
        description="share of lost prestige regained a month",
        source="assumption",
        status="assumption",
    )
    retreat_months: int = param(
        6,
        ge=1,
        le=36,
        unit="months",
        description="months over which the campaign winds down after the recall",
        source="assumption: from the Twelve Articles (Nov 1960) to the Sixty Articles (1961)",
        status="assumption",
    )
    schedule: dict[str, float] = param(
        HISTORICAL_SCHEDULE,
        description="national campaign intensity (0-1) by month 'YYYY-MM', linear in between, flat outside",
        source=_SCHEDULE_SOURCE,
        status="assumption",
    )
    fear_from: str = param(
        "1959-08",
        pattern=MONTH,
        description="month from which the Lushan purge makes cadres fear being labelled rightist",
        source="organisation.csv: Lushan conference / Peng Dehuai purge, Jul-Aug 1959 (verified)",
        status="verified",
    )
    fear: float = param(
        0.3,
        ge=0.0,
        le=2.0,
        description="extra pressure on cadres after the purge (0.3 = 30% more)",
        source="assumption",
        status="assumption",
    )
    radicalism_alternate: float = param(
        1.1,
        ge=0.5,
        le=2.0,
        description="pressure multiplier in provinces led by an alternate member of the 8th Central Committee",
        source="Kung & Chen 2011 APSR (model_results.csv, verified): ~3 pp higher excess procurement than "
        "provinces led by full members, on a procurement ratio of ~30% => +10% (derived)",
        status="derived",
    )
    radicalism_full: float = param(
        1.0, ge=0.5, le=2.0, description="pressure multiplier under a full member", source="reference level"
    )
    radicalism_politburo: float = param(
        1.0,
        ge=0.5,
        le=2.0,
        description="pressure multiplier under a Politburo member",
        source="assumption: no separate effect retrieved; Kung & Chen 2011 contrast alternates and full members",
        status="assumption",
    )
    radicalism_non_member: float = param(
        1.0,
        ge=0.5,
        le=2.0,
        description="pressure multiplier under a first secretary outside the Central Committee",
        source="assumption (see radicalism_politburo)",
        status="assumption",
    )


@cache
def leader_status() -> dict[str, str]:
    """Each province's first secretary's 8th Central Committee rank, 1958-59."""
    return {row["code"]: row["cc8_status"] for row in read_rows("provincial_leaders.csv")}


class Campaign(Module):
    """National campaign intensity and provincial radicalism (a nation phase)."""

    name = "campaign"
    Params = CampaignParams
    params: CampaignParams
    states = (
        StateSpec("campaign_intensity", "nation", "float64", 0.0, "national campaign intensity this month (0-1)"),
        StateSpec("fear", "nation", "float64", 0.0, "extra pressure from fear of purges this month"),
        StateSpec("radicalism", "province", "float64", 1.0, "pressure multiplier of the province's leadership"),
        StateSpec("pressure", "province", "float64", 0.0, "pressure on cadres: radicalism x intensity x (1 + fear)"),
        StateSpec("prestige", "nation", "float64", 1.0, "the leadership's prestige (1 = before the Leap)"),
        StateSpec("months_since_recall", "nation", "float64", -1.0, "months since the recall (-1: not recalled)"),
        StateSpec("starvation_deaths_last", "province", "float64", 0.0, "starvation deaths last month (real)"),
        StateSpec("population_last", "province", "float64", 0.0, "population at the end of last month (real)"),
        StateSpec("steel_good_year_t", "nation", "float64", 0.0, "good modern steel made so far this year (real t)"),
        StateSpec("steel_target_year_t", "nation", "float64", 0.0, "the steel target due so far this year (real t)"),
        StateSpec("steel_missed", "nation", "float64", 0.0, "share of last year's steel target missed"),
    )
    results = (
        ResultSpec("campaign_intensity", "stock", "", "national campaign intensity (0-1)", scope="nation"),
        ResultSpec("prestige", "stock", "", "the leadership's prestige (1 = before the Leap)", scope="nation"),
        ResultSpec(
            "steel_target_missed",
            "stock",
            "share",
            "share of last year's steel target not met with good steel (judged in January)",
            scope="nation",
        ),
        ResultSpec(
            "recalled",
            "stock",
            "",
            "1 once the policies are recalled (the recall date is the first month at 1)",
            scope="nation",
        ),
    )

    def init_nation(self, nation: Nation, ctx: StepContext) -> None:
        p = self.params
        by_status = {
            "alternate": p.radicalism_alternate,
            "full": p.radicalism_full,
            "full_politburo": p.radicalism_politburo,
            "not_member": p.radicalism_non_member,
        }
        status = leader_status()
        nation.provinces.radicalism[:] = [by_status.get(status.get(code, ""), 1.0) for code in nation.codes]

    def step_nation(self, nation: Nation, ctx: StepContext) -> None:
        p = self.params
        state = nation.state
        # Prestige: eroded by last month's starvation deaths, slowly regained.
        population = float(nation.provinces.population_last.sum())
        if population > 0:
            per_mille_year = 12_000.0 * float(nation.provinces.starvation_deaths_last.sum()) / population
            loss = p.outcry_per_mille * per_mille_year / 100.0
            # The plan's failure, judged each January on the year just ended: good steel against the target
            # (industry's monthly figures per province, added up here in province order).
            if "steel_good_t" in nation.provinces.names:
                state.steel_good_year_t[0] += float(nation.provinces.steel_good_t.sum())
                state.steel_target_year_t[0] += float(nation.provinces.steel_target_t.sum())
            if ctx.month == 1 and state.steel_target_year_t[0] > 0:
                missed = max(0.0, 1.0 - float(state.steel_good_year_t[0] / state.steel_target_year_t[0]))
                state.steel_missed[0] = missed
                loss += p.target_failure_weight * missed
                state.steel_good_year_t[0] = state.steel_target_year_t[0] = 0.0
            state.prestige[0] = float(
                np.clip(state.prestige[0] - loss + p.prestige_recovery * (1 - state.prestige[0]), 0.0, 1.0)
            )
        # The recall: at the date (historical) or when prestige falls below the threshold (endogenous).
        if state.months_since_recall[0] >= 0:
            state.months_since_recall[0] += 1.0
        else:
            due = (
                month_key(ctx.year, ctx.month) >= parse_month(p.recall_date)
                if p.politics == "historical"
                else state.prestige[0] < p.recall_threshold
            )
            if due:
                state.months_since_recall[0] = 0.0
        retreat = 1.0
        if state.months_since_recall[0] >= 0:
            retreat = max(0.0, 1.0 - (state.months_since_recall[0] + 1.0) / p.retreat_months)
        intensity = interpolate_schedule(p.schedule, ctx.year, ctx.month) * retreat
        nation.state.campaign_intensity[0] = intensity
        purged = month_key(ctx.year, ctx.month) >= parse_month(self.params.fear_from)
        fear = self.params.fear if purged else 0.0
        nation.state.fear[0] = fear
        nation.provinces.pressure[:] = nation.provinces.radicalism * intensity * (1.0 + fear)
        ctx.record_nation("campaign_intensity", intensity)
        ctx.record_nation("prestige", float(state.prestige[0]))
        ctx.record_nation("steel_target_missed", float(state.steel_missed[0]))
        ctx.record_nation("recalled", 1.0 if state.months_since_recall[0] >= 0 else 0.0)
