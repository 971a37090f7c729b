"""Grain accounts: every month, every commune's granary and households' private stores must balance.

Not a mechanism but the accounting check of the food system (STYLE: 'accounting checks are code'). At the
start of each month it notes the opening stocks; under `--check` (and in the tests) it verifies, commune by
commune, that

    granary after = granary before + harvest - losses - seed - procurement + resales + confiscated
                    - distributed - served in the mess hall - wasted in it
    private stores after = before + distributed + plot output - confiscated - eaten from private stores
                           + brought in by migrants - taken away by migrants

to float precision, and that no stock is negative. (The state's pool balances by construction in
`state_grain`; the national identity is tested on the results.)
"""

from __future__ import annotations

import numpy as np

from greatleap.core.module import Module, ResultSpec, StepContext
from greatleap.core.params import ParamSection
from greatleap.core.state import StateSpec
from greatleap.core.world import ProvinceShard


class GrainAccountsParams(ParamSection):
    """No parameters: the accounts only check."""


class GrainAccounts(Module):
    name = "grain_accounts"
    Params = GrainAccountsParams
    states = (
        StateSpec("granary_opening_t", "commune", "float64", 0.0, "the granary at the start of the month"),
        StateSpec("private_opening_t", "commune", "float64", 0.0, "private stores at the start of the month"),
    )
    results = (
        ResultSpec("granary_mt", "stock", "Mt", "grain in the collective granaries at the end of the month"),
        ResultSpec("private_stock_mt", "stock", "Mt", "grain in households' own stores at the end of the month"),
    )

    def close(self, shard: ProvinceShard, ctx: StepContext) -> None:
        """The last food phase of the month: record the closing stocks."""
        ctx.record("granary_mt", shard.communes.granary_t / 1e6)
        ctx.record("private_stock_mt", self._private(shard) / 1e6)

    def step(self, shard: ProvinceShard, ctx: StepContext) -> None:
        communes = shard.communes
        communes.granary_opening_t[:] = communes.granary_t
        communes.private_opening_t[:] = self._private(shard)
        for name in communes.names:
            if name.startswith("flow_"):
                communes.column(name)[:] = 0.0  # every flow restarts each month

    @staticmethod
    def _private(shard: ProvinceShard) -> np.ndarray:
        return shard.per_commune(shard.households.private_stock_kg) / 1000.0

    def check(self, shard: ProvinceShard, ctx: StepContext) -> None:
        c = shard.communes
        granary = (
            c.granary_opening_t
            + c.harvest_t
            - c.flow_losses_t
            - c.flow_seed_t
            - c.flow_procured_t
            + c.flow_resales_t
            + c.flow_confiscated_t
            - c.flow_distributed_t
            - c.flow_served_t
            - c.flow_wasted_t
        )
        private = (
            c.private_opening_t + c.flow_distributed_t + c.flow_plots_t - c.flow_confiscated_t - c.flow_eaten_private_t
        )
        if "flow_carried_in_t" in c.names:  # migrants take grain along and bring it where they settle
            private = private + c.flow_carried_in_t - c.flow_carried_out_t
        scale = 1.0 + np.abs(c.granary_opening_t) + np.abs(c.harvest_t) + np.abs(c.private_opening_t)
        for name, expected, actual in (
            ("granary", granary, c.granary_t),
            ("private stores", private, self._private(shard)),
        ):
            error = np.abs(expected - actual) / scale
            if (error > 1e-9).any():
                worst = int(np.argmax(error))
                raise AssertionError(
                    f"{shard.code}: {name} of commune {worst} does not balance at step {ctx.t} "
                    f"(expected {expected[worst]:.6f} t, found {actual[worst]:.6f} t)"
                )
        if (c.granary_t < -1e-6).any() or (shard.households.private_stock_kg < -1e-3).any():
            raise AssertionError(f"{shard.code}: a negative grain stock at step {ctx.t}")
