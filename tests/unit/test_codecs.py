"""Stored dossier snapshots (store/codecs.py): zstd with the shipped dictionary,
older zlib blobs still readable, and decode(encode(state)) == state, which the
worker's state cache (store/plan.py StateCache) relies on."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from processors.dossier_update import DossierState, apply_events
from processors.events import Event, event_from_dict
from store.codecs import ZSTD_MAGIC, decode_dossier, encode_dossier, encode_dossier_zlib, split_dossier
from tests.gen import dossiers

pytestmark = pytest.mark.unit


def states(raw: list[dict]) -> list[DossierState]:
    """The state after each accepted event, in order."""
    out, state = [], DossierState()
    for r in raw:
        ev = event_from_dict(r)
        if not isinstance(ev, Event):
            continue
        update = apply_events(ev.key, state, [ev])
        if update.changed:
            state = update.state
            out.append(state)
    return out


@settings(max_examples=60, deadline=None)
@given(dossiers())
def test_a_snapshot_decodes_to_the_state_it_was_made_of(raw: list[dict]) -> None:
    for state in states(raw):
        blob = encode_dossier(state)
        version, body = split_dossier(blob)
        assert version == state.version
        assert body is not None and body.startswith(ZSTD_MAGIC)
        assert decode_dossier(blob) == state


@settings(max_examples=60, deadline=None)
@given(dossiers())
def test_snapshots_written_with_zlib_before_zstd_stay_readable(raw: list[dict]) -> None:
    for state in states(raw):
        old = encode_dossier_zlib(state)
        assert not split_dossier(old)[1].startswith(ZSTD_MAGIC)
        assert decode_dossier(old) == state
        assert decode_dossier(encode_dossier(decode_dossier(old))) == state
