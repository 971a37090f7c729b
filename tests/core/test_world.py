import copy

import numpy as np
import pytest

from greatleap.core import kernels
from greatleap.core.data import provinces
from greatleap.core.world import WorldParams, build_province, build_world, class_attributes

PARAMS = WorldParams()


def province(code: str):
    return next(p for p in provinces() if p.code == code)


def start_population(code: str) -> float:
    return province(code).population * PARAMS.population_at_start / sum(p.population for p in provinces())


def test_every_province_of_1957_58_is_built_once():
    codes = [p.code for p in provinces()]
    assert len(codes) == 29 and len(set(codes)) == 29
    assert {"SC", "HA", "AH", "GS", "SH", "NX", "XZ"} <= set(codes)


@pytest.fixture(scope="module")
def ningxia_full():
    return build_province(province("NX"), PARAMS, "full", seed=1)


def test_full_scale_simulates_every_commune_at_weight_one(ningxia_full):
    shard = ningxia_full
    assert shard.communes.count == shard.real_rural_communes + shard.real_urban_districts
    np.testing.assert_array_equal(shard.communes.weight, 1.0)
    # Every person of the province, within the rounding of household counts and sizes.
    assert shard.persons.count == pytest.approx(start_population("NX"), rel=0.01)


def test_communes_brigades_and_teams_have_their_real_sizes(ningxia_full):
    shard = ningxia_full
    per_commune = np.bincount(shard.household_commune())
    rural = ~shard.communes.is_urban
    assert per_commune[rural].mean() == pytest.approx(
        start_population("NX")
        * (1 - province("NX").urban_share)
        / PARAMS.rural_household_size
        / shard.real_rural_communes,
        rel=0.01,
    )
    household_team = shard.household_team()
    assert household_team.size == shard.households.count and (np.diff(household_team) >= 0).all()
    brigade_of_household = shard.teams.brigade[household_team]
    per_brigade = np.bincount(brigade_of_household)
    per_team = np.bincount(household_team)
    assert per_team.size == shard.teams.count
    assert 150 <= per_brigade.mean() <= 250
    assert 20 <= per_team.min() and per_team.max() <= 45
    # The hierarchy is consistent: a household's team's brigade belongs to the household's commune.
    np.testing.assert_array_equal(shard.brigades.commune[brigade_of_household], shard.household_commune())


def test_every_household_is_headed_by_an_adult(ningxia_full):
    persons = ningxia_full.persons
    adult = -persons.birth_month.astype(int) >= 18 * 12
    has_adult = np.bincount(persons.household, weights=adult, minlength=ningxia_full.households.count)
    assert (has_adult >= 1).all()
    sizes = np.bincount(persons.household)
    assert sizes.mean() == pytest.approx(4.55, abs=0.15)  # mix of rural 4.6 and urban 4.0


def test_initial_age_structure_follows_the_1953_census(ningxia_full):
    persons = ningxia_full.persons
    age = -persons.birth_month.astype(int) // 12
    assert np.mean(age < 15) == pytest.approx(0.3628, abs=0.01)  # 1953 census: 36.28% aged 0-14
    assert np.mean(age >= 65) == pytest.approx(0.0441, abs=0.005)  # 4.41% aged 65+
    assert np.mean(~persons.sex.unpack()) == pytest.approx(30799 / (30799 + 28636), abs=0.01)


def test_sample_weights_stand_for_the_real_communes_and_population():
    world = build_world(PARAMS, "sample", seed=1)
    total = 0.0
    for shard in world:
        rural = ~shard.communes.is_urban
        assert shard.communes.weight[rural].sum() == pytest.approx(shard.real_rural_communes)
        assert shard.communes.weight[~rural].sum() == pytest.approx(shard.real_urban_districts)
        assert rural.sum() == min(PARAMS.sample_communes_per_province, shard.real_rural_communes)
        counts = np.bincount(shard.person_commune(), minlength=shard.communes.count)
        total += counts @ shard.communes.weight
    # Weighted persons estimate the national population at the start within sampling noise.
    assert total == pytest.approx(PARAMS.population_at_start, rel=0.01)
    assert sum(s.real_rural_communes for s in world) == pytest.approx(26_000, rel=0.1)  # ~26,000 communes in 1958


def test_sampled_communes_sit_at_stratum_midpoints():
    shard = build_province(province("SC"), PARAMS, 4, seed=1)
    rural = ~shard.communes.is_urban
    np.testing.assert_allclose(shard.communes.quality[rural], [0.125, 0.375, 0.625, 0.875])


def test_person_state_stays_within_twenty_bytes(ningxia_full):
    # World states only here; the engine's modules add theirs (checked in tests/core/test_engine.py).
    assert ningxia_full.persons.nbytes_per_row <= 20


def test_resettled_persons_arrive_as_copies_in_proportion_to_the_commune_weights():
    """Moving persons from rural communes (heavy weights) to an urban district (light weight) conserves
    real persons: each arrives as weight(origin) / weight(destination) rows on average."""
    shard = build_province(province("HE"), WorldParams(), "sample", seed=3)
    communes = shard.communes
    rural = np.flatnonzero(~communes.is_urban)
    urban = int(np.flatnonzero(communes.is_urban)[0])
    commune = shard.person_commune()
    movers = np.flatnonzero(np.isin(commune, rural))[:20_000]
    origin_weight = communes.weight[commune[movers]]
    real_before = float(np.sum(communes.weight[commune] * shard.persons.alive))
    arrived, _ = shard.resettle(np.random.default_rng(1), movers, np.full(movers.size, urban), origin_weight, {})
    commune_after = shard.person_commune()
    assert (commune_after[arrived] == urban).all()
    ratio = origin_weight.mean() / communes.weight[urban]
    assert ratio > 1.5  # the case worth testing: one mover becomes several rows
    assert arrived.size == pytest.approx(movers.size * ratio, rel=0.02)
    real_after = float(np.sum(communes.weight[commune_after] * shard.persons.alive))
    assert real_after == pytest.approx(real_before, rel=0.002)


def test_a_resettled_family_arrives_whole_in_one_household_per_copy():
    """Families of movers share a destination and a host household; each copy of a family holds all of
    its members."""
    shard = build_province(province("HE"), WorldParams(), "sample", seed=3)
    communes, persons = shard.communes, shard.persons
    urban = int(np.flatnonzero(communes.is_urban)[0])
    commune = shard.person_commune()
    movers = np.flatnonzero(~communes.is_urban[commune])[:3_000]
    family = np.arange(movers.size) // 3  # families of three
    n_families = int(family[-1]) + 1
    origin_weight = communes.weight[commune[movers[::3]]]
    count = persons.count
    arrived, _ = shard.resettle(
        np.random.default_rng(1),
        movers,
        np.full(n_families, urban),
        origin_weight,
        {},
        family=family,
    )
    assert (shard.person_commune()[arrived] == urban).all()
    ratio = origin_weight.mean() / communes.weight[urban]
    assert ratio > 1.5
    assert arrived.size == pytest.approx(movers.size * ratio, rel=0.03)
    assert arrived.size % 3 == 0  # whole families only
    # Each family's first copy moved in place: its three members share one household.
    in_place = movers[persons.alive[movers]]
    host = persons.household[in_place].reshape(-1, 3)
    assert (host == host[:, :1]).all()
    # The appended copies come family by family, each family's three rows in one household.
    copies = persons.household[count:].reshape(-1, 3)
    assert (copies == copies[:, :1]).all()


def test_destinations_follow_the_weights_and_never_the_origin():
    from greatleap.core.world import draw_destinations

    weights = np.array([1.0, 0.0, 3.0, 6.0])
    rng = np.random.default_rng(2)
    drawn = draw_destinations(rng, weights, np.full(100_000, 3))  # leaving row 3: rows 0 and 2, 1:3
    assert not np.isin(drawn, [1, 3]).any()
    assert (drawn == 2).mean() == pytest.approx(0.75, abs=0.01)
    anywhere = draw_destinations(rng, weights, np.full(100_000, -1))  # no origin: every row by its weight
    assert np.bincount(anywhere, minlength=4) / 1e5 == pytest.approx(weights / weights.sum(), abs=0.01)
    alone = draw_destinations(rng, np.array([0.0, 5.0]), np.array([1, 1]))  # nowhere else to go
    assert (alone == 1).all()


def test_person_classes_and_commune_sums_are_the_same_with_either_kernel_backend(ningxia_full):
    shard = ningxia_full
    rng = np.random.default_rng(3)
    per_household = rng.standard_normal(shard.households.count)
    with kernels.use("numba"):
        shard.extra.clear()
        compiled = shard.person_class(40), shard.per_commune(per_household)
    with kernels.use("numpy"):
        shard.extra.clear()
        reference = shard.person_class(40), shard.per_commune(per_household)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(compiled, reference, strict=True))
    age, sex, urban = class_attributes()
    assert (age[compiled[0]] == (40 - shard.persons.birth_month.astype(int)) // 12).all()
    assert (sex[compiled[0]] == shard.persons.sex.unpack()).all() and (urban[compiled[0]] == 0).any()


def test_living_rows_of_a_bit_column_are_the_flagged_living_rows_with_either_kernel_backend(ningxia_full):
    """The returning recruits are drawn from `living_rows(recruited)`: it must list exactly the rows that are
    flagged and alive, in order, and agree with `living_by_commune`, whichever backend runs."""
    shard = copy.deepcopy(ningxia_full)
    persons = shard.persons
    rng = np.random.default_rng(5)
    persons.alive[rng.random(persons.count) < 0.1] = False
    female = persons.sex.unpack()
    expected = np.flatnonzero(female & persons.alive)
    assert 0.4 * persons.count < expected.size < 0.5 * persons.count
    for backend in ("numba", "numpy"):
        with kernels.use(backend):
            rows = shard.living_rows(persons.sex)
            assert rows.dtype == np.int64 and np.array_equal(rows, expected)
            by_commune = shard.living_by_commune(persons.sex)
            assert np.array_equal(by_commune, np.bincount(shard.commune_of(rows), minlength=shard.communes.count))
    persons.sex[:] = False
    assert shard.living_rows(persons.sex).size == 0


def test_december_compaction_drops_the_dead_and_restores_household_order():
    """Newborns are appended at the end and movers change household in place; the compaction puts every
    person back among their household's rows (in their former order within it), drops the dead and the
    per-person caches keyed to the old rows."""
    shard = build_province(provinces()[0], WorldParams(), 1, seed=3)
    persons = shard.persons
    shard.person_class(0)  # fills a cache
    mothers = np.array([5, 900, 40])
    mothers_households = sorted(persons.household[mothers].tolist())
    newborns = persons.add_offspring(mothers)
    persons.birth_month[newborns] = 1
    persons.household[10] = persons.household[2000]  # a mover, in place
    persons.alive[[7, 1500]] = False
    living_before = int(persons.alive.sum())
    shard.compact_persons()
    household = persons.household
    assert persons.count == living_before and persons.alive.all()
    assert (np.diff(household) >= 0).all()
    for name in ("person_class", "person_commune", "household_members"):
        assert name not in shard.extra
    born = np.flatnonzero(persons.birth_month == 1)
    assert sorted(household[born].tolist()) == mothers_households
    for row in born:  # the last row of its household: after the members already there
        assert row + 1 == persons.count or household[row + 1] != household[row]


def test_household_members_are_kept_between_stretches_in_a_byte_only_when_every_count_fits():
    """Leaving a stretch, a province keeps its members counted in one byte a household and the next stretch
    expands them to the same float64 counts; a count above 255 (or a change of the rows) means a recount."""
    shard = build_province(province("NX"), WorldParams(), "sample", seed=3)
    counted = shard.household_members().copy()
    shard.release_caches()
    assert shard.extra["household_members_kept"][1].dtype == np.uint8
    assert shard.current_members().tobytes() == counted.tobytes()
    assert "household_members_kept" not in shard.extra  # expanded, the one copy is the float64 cache
    shard.household_members()[0] = 256.0  # not a count a byte holds: not kept
    shard.release_caches()
    assert shard.current_members() is None
    assert shard.household_members().tobytes() == counted.tobytes()  # recounted
    shard.release_caches()
    shard.persons.touch()  # rows changed: the kept counts are stale
    assert shard.current_members() is None


def test_household_members_kept_through_deaths_births_and_moves_equal_a_recount():
    """Deaths, births, flight within and between provinces and recruitment keep the cached living members per
    household counted up and down (`members_moved`) rather than dropped: after every province phase of a run
    through the famine, a cache still held equals a fresh recount byte for byte, and it is held through the
    month's deaths into the flight that takes each mover's share of their household. Kept in a byte a household
    between stretches and through December's compaction, the members are counted once per province, at the
    start, and never again."""
    from greatleap.core.world import ProvinceShard
    from greatleap.scenario import Scenario
    from greatleap.sim import build_engine

    engine = build_engine(Scenario.load("historical", ["run.scale=2", 'run.end="1960-06"']), codes=["AH", "GS", "SC"])
    checked = {"phases": 0, "rows_arrived": 0, "demography": 0, "recruitment": 0, "migration: flight": 0}
    recounts = []
    household_members = ProvinceShard.household_members

    def counting_recounts(shard):
        if shard.current_members() is None:
            recounts.append((shard.code, engine.t))
        return household_members(shard)

    def checking(phase_name: str, step):
        def step_and_check(shard, ctx):
            rows_before = shard.persons.count
            step(shard, ctx)
            if phase_name == "migration: arrivals":
                checked["rows_arrived"] += shard.persons.count - rows_before
            members = shard.current_members()
            if members is not None:
                assert members.tobytes() == shard.sum_by_household(shard.persons.alive).tobytes(), phase_name
                checked["phases"] += 1
                checked[phase_name] = checked.get(phase_name, 0) + 1

        return step_and_check

    for phase in engine.phases:
        if phase.scope == "province":
            bound = phase.callable()
            setattr(phase.module, phase.method or "step", checking(phase.name, bound))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ProvinceShard, "household_members", counting_recounts)
        engine.run()
    assert recounts == []  # counted at the build (before the run), kept through 3 Decembers' compactions
    assert checked["rows_arrived"] > 0  # rows posted between provinces arrived (added, then resettled)
    assert checked["demography"] == 3 * engine.calendar.n_months  # deaths and births kept the count: no recount
    assert checked["migration: flight"] == 3 * engine.calendar.n_months  # kept through resettling the movers
    assert checked["recruitment"] > 0 and checked["phases"] > 6 * 3 * engine.calendar.n_months
