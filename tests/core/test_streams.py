import hashlib

import numpy as np

from greatleap.core.streams import Streams, make_generator, name_key


def test_name_key_is_stable_across_processes():
    # sha256-based, never Python's salted hash(): the same words on every platform and interpreter run.
    assert name_key("demography", "deaths", "SC") == [192325234, 2976147956, 831765231, 119419908]
    digest = hashlib.sha256(b"demography\x1fdeaths\x1fSC").digest()
    assert name_key("demography", "deaths", "SC")[0] == int.from_bytes(digest[:4], "little")


def test_streams_differ_by_module_stream_province_and_seed():
    draws = {
        key: make_generator(*key).random(4).tolist()
        for key in [
            (1, "a", "x", "SC"),
            (1, "a", "y", "SC"),
            (1, "b", "x", "SC"),
            (1, "a", "x", "HA"),
            (2, "a", "x", "SC"),
        ]
    }
    assert len({tuple(v) for v in draws.values()}) == len(draws)


def test_stream_does_not_depend_on_other_streams_being_created_first():
    first = Streams(7, "SC")
    first.get("nutrition", "food_access")
    a = first.get("demography", "deaths").random(5)
    b = Streams(7, "SC").get("demography", "deaths").random(5)
    np.testing.assert_array_equal(a, b)


def test_generator_state_is_exposed_for_checkpoints():
    streams = Streams(3, "BJ")
    streams.get("demography", "deaths").random(3)
    state = streams.state()
    assert list(state) == ["demography/deaths"]
    assert state["demography/deaths"]["bit_generator"] == "PCG64"
