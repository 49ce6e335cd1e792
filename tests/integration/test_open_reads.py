"""open_with_info.lua reads the open records with one HMGET per slice of an open
set: on a real redis-server its answer must be exactly ZRANGE WITHSCORES and one
HGET per member, for sets around and across the slice size, members without a
record, several units and states."""

from __future__ import annotations

import uuid

import pytest
import redis

from store.keys import Keys
from store.scripts import script

pytestmark = pytest.mark.integration

SLICE = 1000  # open_with_info.lua's slice


@pytest.fixture(scope="module")
def store(services):
    r = redis.Redis(port=services[1].port)
    yield r
    r.close()


def expected(r: redis.Redis, keys: Keys, units: list[str], states: list[str]) -> list:
    out: list = []
    for unit in units:
        for state in states:
            for member, score in r.zrange(keys.open_set(unit, state), 0, -1, withscores=True):
                out += [member, score, r.hget(keys.open, member)]
    return out


@pytest.mark.parametrize("sizes", [(0, 1), (SLICE - 1, 2), (SLICE, 0), (SLICE + 1, 3), (2 * SLICE + 345, 7)])
def test_the_records_read_in_slices_equal_one_hget_per_dossier(store: redis.Redis, sizes: tuple[int, int]) -> None:
    keys = Keys(f"to{uuid.uuid4().hex[:10]}:")
    big, small = sizes
    members = {("u1", "due"): big, ("u1", "late"): small, ("u2", "due"): small, ("u3", "late"): 0}
    for (unit, state), n in members.items():
        ids = [f"{unit}-{state}-{i:05d}" for i in range(n)]
        if ids:
            # scores out of the ids' order, so that a slice mixing up positions shows
            store.zadd(keys.open_set(unit, state), {d: (i * 7919) % (n + 13) for i, d in enumerate(ids)})
            # every third dossier has no open record: the script answers false (None) for it
            records = {d: f"record-of-{d}" for i, d in enumerate(ids) if i % 3}
            if records:
                store.hset(keys.open, mapping=records)
    units, states = ["u1", "u2", "u3", "u4"], ["due", "late"]
    got = store.eval(script("open_with_info"), 1, keys.route, keys.prefix, len(states), *states, *units)
    want = expected(store, keys, units, states)
    assert len(want) == 3 * (big + 2 * small)
    assert [(m, float(s), rec) for m, s, rec in zip(got[::3], got[1::3], got[2::3])] == \
        [(m, s, rec) for m, s, rec in zip(want[::3], want[1::3], want[2::3])]
    assert len(got) == len(want)
    written = list(store.scan_iter(match=f"{keys.prefix}*", count=1000))
    if written:
        store.delete(*written)
