"""Agriculture's weather: the province-year shock that fixed quotas meet."""

import numpy as np
import pytest

from tests.modules.helpers import module, tiny_engine


def test_a_provinces_weather_scatters_around_the_nations_by_the_declared_dispersion():
    # The province-year shock is lognormal with the declared log-sd and mean 1: it moves a province's
    # harvest against the quota fixed on last year's report, without changing the nation's expected weather.
    engine = tiny_engine("agriculture.weather_dispersion=0.2")
    agriculture = module(engine, "agriculture")
    shard = engine.shards[0]
    ctx = engine.ctx
    ctx.t, ctx.module, ctx.shard, ctx.nation = 36, agriculture, shard, engine.nation  # 1960
    national = agriculture.params.weather_by_year[1960]
    relative = np.empty(4000)
    for draw in range(relative.size):
        agriculture._draw_weather(shard, ctx)
        relative[draw] = engine.nation.provinces.weather[shard.index] / national
    assert np.log(relative).std() == pytest.approx(0.2, rel=0.05)
    assert relative.mean() == pytest.approx(1.0, abs=0.01)
    assert (relative < 0.8).mean() == pytest.approx(0.16, abs=0.03)  # a fifth lost in about one year in six
