"""Reports: what cadres said the harvest was.

At each harvest a commune's cadres report its output inflated by the political pressure they are under:

    reported = harvested x (1 + inflation x pressure)

where `pressure` is the province's campaign pressure this month (radicalism of its leadership x national
campaign intensity x (1 + fear after the purges), see `campaign`). The claims of 1958 (375 Mt announced in
December 1958 against some 200 Mt harvested) and 1959 (270 Mt against 170 Mt) bound the inflation
(national_series.csv). Both figures are kept: the true one feeds people, the reported one feeds the plans
(procurement quotas, sown-area cuts).
"""

from __future__ import annotations

from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import ParamSection, param
from greatleap.core.state import StateSpec
from greatleap.core.world import ProvinceShard


class ReportsParams(ParamSection):
    inflation: float = param(
        0.8,
        ge=0.0,
        le=5.0,
        description="share added to true output per unit of campaign pressure (0 = honest reports)",
        source="derived: national claims of 375 Mt (Dec 1958) and 270 Mt (1959) against 200 and 170 Mt "
        "harvested (national_series.csv) imply +88% and +59% under full pressure",
        status="derived",
    )


class Reports(Module):
    """True and reported output of each commune, by calendar year."""

    name = "reports"
    Params = ReportsParams
    params: ReportsParams
    states = (
        StateSpec("reported_this_year_t", "commune", "float64", 0.0, "output reported so far this calendar year"),
        StateSpec("true_this_year_t", "commune", "float64", 0.0, "output harvested so far this calendar year"),
        StateSpec("reported_last_year_t", "commune", "float64", 0.0, "output reported last calendar year"),
        StateSpec("true_last_year_t", "commune", "float64", 0.0, "output harvested last calendar year"),
    )
    results = (ResultSpec("grain_reported_mt", "flow", "Mt", "grain output as reported by the cadres"),)

    def init(self, shard: ProvinceShard, ctx: StepContext) -> None:
        communes = shard.communes
        communes.reported_last_year_t[:] = communes.output_1957_t  # 1956 was reported about as harvested
        communes.true_last_year_t[:] = communes.output_1957_t

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        communes = shard.communes
        assert ctx.nation is not None
        if ctx.month == 1 and ctx.t > 0:
            communes.reported_last_year_t[:] = communes.reported_this_year_t
            communes.true_last_year_t[:] = communes.true_this_year_t
            communes.reported_this_year_t[:] = 0.0
            communes.true_this_year_t[:] = 0.0
        pressure = float(ctx.nation.provinces.pressure[shard.index])
        harvested = communes.harvest_t
        reported = harvested * (1.0 + self.params.inflation * pressure)
        communes.reported_this_year_t[:] += reported
        communes.true_this_year_t[:] += harvested
        ctx.record("grain_reported_mt", reported / 1e6)
