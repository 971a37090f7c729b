"""Livestock: the draught animals that plough the fields and the pigs that manure them, and what hunger did to them.

A rural commune's herds are one index relative to 1957 (`livestock_index`, 1 = the herds of 1957). Each
month the herds shrink when the commune's people go hungry: fodder goes to people, animals starve, are
worked to death or are eaten. The monthly loss rises linearly from nothing at a mean energy reserve of
`hunger_onset` to `hunger_loss_max` at `hunger_desperate` (last month's reserve, as nutrition left it).
Collective herds were also neglected: no one owned them any more, and feed grain was taken in procurement;
while the campaign runs, the herds lose `neglect_loss` x the campaign's intensity a month. Herds regrow
slowly, `regrowth` of the gap to 1957's a month where the people are fed above `hunger_onset`, less in
proportion to their hunger below it: cattle breed once a year and a pig herd must first be rebuilt from sows.

The herds act on the fields through two factors this module states and agriculture reads: ploughing
needs draught power, so a commune sows its planned area times `draught_factor` = `livestock_index ^
draught_elasticity`, and manure feeds the soil, so yields are multiplied by `manure_factor` =
`livestock_index ^ manure_elasticity`. Because the herds come back slowly, the harvests
lag the end of the famine: the persistence that the record shows in 1961-62 (grain sown area 121.4 Mha
in 1961 against 133.6 in 1957, national_series.csv grain_sown_area).

Source for the size of the losses: the pig stock of 1960 was 43.6% below 1957's (national_series.csv,
grain_output_change_vs_1957, verified); the tests compare the index of 1960 with it (the calibration
does not fit it: the index stands for draught animals too, which fell less).
The feed the herds eat is not yet taken out of the granary separately (agriculture's `loss_share` holds a
fixed feed share), so fewer animals do not yet leave more grain for people.
"""

from __future__ import annotations

import numpy as np

from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import ParamSection, param
from greatleap.core.state import StateSpec
from greatleap.core.world import ProvinceShard

PIG_STOCK_CHANGE_1960 = -0.436  # national_series.csv grain_output_change_vs_1957, note (verified)


class LivestockParams(ParamSection):
    enabled: bool = param(
        True,
        description="herds react to hunger and act on the fields; false = herds stay at 1957's",
        source="definition",
    )
    hunger_onset: float = param(
        0.95,
        ge=0.7,
        le=1.0,
        description="mean energy reserve of a commune's people below which its herds begin to shrink",
        source="assumption: a loss of about 5% of body mass, when households start to eat what would feed animals",
        status="assumption",
    )
    hunger_desperate: float = param(
        0.8,
        ge=0.5,
        le=0.95,
        description="mean energy reserve at which the herds shrink at `hunger_loss_max` a month",
        source="assumption",
        status="assumption",
    )
    hunger_loss_max: float = param(
        0.04,
        ge=0.0,
        le=0.5,
        description="share of the herds lost a month when the people are desperate",
        source="assumption: sized so that the national index of 1960 comes near the pig stock's -43.6% against "
        "1957 (national_series.csv, verified)",
        status="assumption",
    )
    neglect_loss: float = param(
        0.01,
        ge=0.0,
        le=0.1,
        description="share of the herds lost a month at the campaign's full intensity (collective neglect)",
        source="assumption: animals taken into the communes' collective herds were slaughtered by their owners "
        "or neglected; no national figure is sourced",
        status="assumption",
    )
    regrowth: float = param(
        0.03,
        ge=0.0,
        le=0.2,
        description="share of the gap to 1957's herds made good a month where people are fed",
        source="assumption: a half-life of about two years (cattle calve once a year; sows must be rebuilt)",
        status="assumption",
    )
    draught_elasticity: float = param(
        0.15,
        ge=0.0,
        le=1.0,
        description="elasticity of the area a commune can sow to its draught animals",
        source="assumption: ploughing and harrowing were done with oxen and buffalo; with fewer animals part of "
        "the land lies unploughed",
        status="assumption",
    )
    manure_elasticity: float = param(
        0.05,
        ge=0.0,
        le=0.5,
        description="yield elasticity to the herds (manure, the main fertiliser before chemical fertiliser)",
        source="assumption",
        status="assumption",
    )


class Livestock(Module):
    """Herds that hunger and the campaign shrink and that grow back slowly; they plough and manure."""

    name = "livestock"
    Params = LivestockParams
    params: LivestockParams
    states = (
        StateSpec("livestock_index", "commune", "float32", 1.0, "draught animals and pigs relative to 1957"),
        StateSpec("draught_factor", "commune", "float32", 1.0, "share of the planned area the animals can plough"),
        StateSpec("manure_factor", "commune", "float32", 1.0, "yield multiplier of the herds' manure"),
    )
    results = (
        ResultSpec("livestock_weighted", "stock", "ha", "livestock index x cultivated land", public=False),
        ResultSpec("livestock_land_ha", "stock", "ha", "cultivated land of the rural communes", public=False),
        ResultSpec(
            "livestock_index",
            "ratio",
            "",
            "draught animals and pigs relative to 1957 (land-weighted mean of the rural communes)",
            numerator="livestock_weighted",
            denominator="livestock_land_ha",
        ),
    )
    streams = ()

    def monthly_change(self, herds: np.ndarray, reserve: np.ndarray, campaign: float) -> np.ndarray:
        """The herds after a month: losses from hunger and neglect, regrowth where people are fed."""
        p = self.params
        span = max(p.hunger_onset - p.hunger_desperate, 1e-9)
        hunger = np.clip((p.hunger_onset - reserve) / span, 0.0, 1.0)
        loss = np.minimum(1.0, p.hunger_loss_max * hunger + p.neglect_loss * campaign)
        regrowth = p.regrowth * (1.0 - hunger) * (1.0 - herds)
        return np.clip(herds * (1.0 - loss) + regrowth, 0.0, 1.0)

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        communes = shard.communes
        rural = ~communes.is_urban
        if self.params.enabled:
            assert ctx.nation is not None
            campaign = float(ctx.nation.state.campaign_intensity[0])
            herds = communes.livestock_index.astype(np.float64)
            reserve = communes.column_or("mean_reserve", 1.0)
            herds = np.where(rural, self.monthly_change(herds, reserve, campaign), 1.0)
            communes.livestock_index[:] = herds
            communes.draught_factor[:] = herds**self.params.draught_elasticity
            communes.manure_factor[:] = herds**self.params.manure_elasticity
        land = communes.land_ha * rural
        ctx.record("livestock_weighted", communes.livestock_index * land)
        ctx.record("livestock_land_ha", land.astype(np.float64))
