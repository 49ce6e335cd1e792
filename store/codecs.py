"""How values are stored: the dossier record and the open record.

A dossier is one string ``{version}|{compressed JSON}``: the version (its number of
events, the compare-and-set token) stays readable in front, so Lua can check it
with a GETRANGE (``version_of`` in ``lua/set_open.lua``) without inflating the
body. The body holds the event set and the contribution last applied: its cells and its
as-of instants. It is written as a zstd frame (level 1) with the dictionary
shipped in ``store/zstd/dossier.dict`` (``tools/train_zstd_dict.py``): ~2x
smaller and ~4x cheaper to write than zlib. Bodies written before that are zlib
streams and stay readable: a zstd frame starts with its magic number, a zlib
stream never does.
"""

from __future__ import annotations

import zlib
from functools import cache
from importlib import resources

import orjson
import zstandard

from processors.dossier_update import DossierState
from processors.events import trusted_event
from processors.petition_update import PetitionState
from processors.petitions import PetitionRecord
from processors.stake import OpenInfo

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@cache
def _dictionary() -> zstandard.ZstdCompressionDict:
    data = resources.files("store").joinpath("zstd/dossier.dict").read_bytes()
    return zstandard.ZstdCompressionDict(data)


@cache
def _compressor() -> zstandard.ZstdCompressor:
    return zstandard.ZstdCompressor(level=1, dict_data=_dictionary(), write_content_size=True)


@cache
def _decompressor() -> zstandard.ZstdDecompressor:
    return zstandard.ZstdDecompressor(dict_data=_dictionary())


def inflate(body: bytes) -> bytes:
    """A stored body, zstd (with the shipped dictionary) or zlib (older blobs)."""
    if body[:4] == ZSTD_MAGIC:
        return _decompressor().decompress(body)
    return zlib.decompress(body)


def dossier_doc(state: DossierState) -> dict:
    """The JSON document a dossier's body compresses."""
    return {"e": [e.data for e in state.events.values()], "c": state.cells,
            "i": [[member.decode(), t] for member, t in state.instants]}


def encode_dossier(state: DossierState) -> bytes:
    """Compact JSON, zstd with a trained dictionary: ~5x smaller in Redis than
    the JSON for a few microseconds per update."""
    body = _compressor().compress(orjson.dumps(dossier_doc(state)))
    return f"{state.version}|".encode() + body


def encode_dossier_zlib(state: DossierState) -> bytes:
    """The format written before zstd (deflated JSON); kept to test that such
    blobs stay readable."""
    return f"{state.version}|".encode() + zlib.compress(orjson.dumps(dossier_doc(state)), 1)


def split_dossier(blob: bytes | None) -> tuple[int, bytes | None]:
    """(version, body) of a stored dossier; (0, None) when there is none."""
    if not blob:
        return 0, None
    head, body = blob.split(b"|", 1)
    return int(head), body


def decode_dossier(blob: bytes | None) -> DossierState:
    _, body = split_dossier(blob)
    if not body:
        return DossierState()
    doc = orjson.loads(inflate(body))
    events = {data["event_id"]: trusted_event(data) for data in doc["e"]}
    instants = tuple((member.encode(), t) for member, t in doc.get("i", ()))
    return DossierState(events, tuple(tuple(c) for c in doc["c"]), instants)  # type: ignore[misc]


def decode_open_record(raw: bytes) -> tuple[str, str, bool]:
    """(unit, state, no_apology) of an open record written by ``set_open``."""
    unit, state, no_apology, *_ = orjson.loads(raw)
    return unit, state, bool(no_apology)


def decode_open_info(raw: bytes) -> tuple[str, str, OpenInfo | None]:
    """(unit, state, what the points at stake need) of an open record."""
    record = orjson.loads(raw)
    return record[0], record[1], OpenInfo.decode(record[4]) if len(record) > 4 else None


def encode_petition(state: PetitionState) -> bytes:
    placed = None
    if state.placed is not None:
        placed = [state.placed[0], state.placed[1].to_json()]
    doc = {"e": [e.data for e in state.events.values()], "r": placed, "o": state.orphan}
    return f"{state.version}|".encode() + zlib.compress(orjson.dumps(doc), 1)


def decode_petition(blob: bytes | None) -> PetitionState:
    _, body = split_dossier(blob)
    if not body:
        return PetitionState()
    doc = orjson.loads(inflate(body))
    events = {data["event_id"]: trusted_event(data) for data in doc["e"]}
    placed = (doc["r"][0], PetitionRecord.from_json(doc["r"][1])) if doc["r"] is not None else None
    return PetitionState(events, placed, bool(doc["o"]))


def encode_petition_record(record: PetitionRecord) -> bytes:
    """The value kept in the unit's petition hash ({p}pt:{unit})."""
    return orjson.dumps(record.to_json())


def decode_petition_record(raw: bytes) -> PetitionRecord:
    return PetitionRecord.from_json(orjson.loads(raw))
