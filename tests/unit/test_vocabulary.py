"""The one vocabulary: every id of the contract labelled in Vietnamese and English."""

from __future__ import annotations


def test_the_vocabulary_names_every_indicator_in_the_index_order() -> None:
    from processors import vocabulary
    from processors.index import GROUPS, INDICATORS

    assert [t.id for t in vocabulary.INDICATORS] == [s.code for s in INDICATORS]
    assert [t.id for t in vocabulary.GROUPS] == list(GROUPS)
    assert all(t.vi and t.en and t.vi != t.en for t in vocabulary.INDICATORS)
