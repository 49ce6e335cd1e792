"""The contract's event schema as a msgspec Struct: decoding and validating the
bytes of a message in one typed C step.

The Struct is generated from the same JSON Schema the fastjsonschema validator
compiles (``schema/dossier-event.schema.json``), so the two cannot drift: every
property becomes a field with the schema's constraints (string lengths, the
instant pattern, enums as literals, strict booleans, integers with their minimum),
the schema's top-level ``required`` fields have no default, every other field
defaults to UNSET (a JSON ``null`` is rejected, as the schema rejects it) and
unknown fields are ignored (the contract allows them). A construct this
translation does not know fails the import rather than being skipped.

msgspec only *accepts* here: ``processors.events.decode_event`` falls back to the
fastjsonschema path on any rejection, so the dead-letter reason of an invalid
event is still the one that path gives (its messages are the ones tested).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _field_type(spec: dict[str, Any], defs: dict[str, Any]) -> Any:
    if "$ref" in spec:
        spec = defs[spec["$ref"].rpartition("#/$defs/")[2]]  # fastjsonschema prefixes refs with the $id in place
    if "enum" in spec:
        assert all(isinstance(v, str) for v in spec["enum"]), spec
        return Literal[tuple(spec["enum"])]
    kind = spec.get("type")
    known = {"type", "minLength", "maxLength", "pattern", "minimum"}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"the typed decode does not know the schema keywords {sorted(unknown)}")
    if kind == "string":
        return Annotated[str, msgspec.Meta(min_length=spec.get("minLength"), max_length=spec.get("maxLength"),
                                           pattern=spec.get("pattern"))]
    if kind == "boolean":
        return bool
    if kind == "integer":
        # orjson (the full path) turns integers outside int64/uint64 into floats,
        # msgspec would keep them exact: outside int64 (msgspec's widest bound)
        # they go the full path, which keeps them as it always did.
        low = max(spec.get("minimum", _INT64_MIN), _INT64_MIN)
        return Annotated[int, msgspec.Meta(ge=low, le=_INT64_MAX)]
    raise ValueError(f"the typed decode does not know the schema type {kind!r}")


def event_struct(schema: dict[str, Any], kept: tuple[str, ...]) -> type[msgspec.Struct]:
    """A kw-only Struct of the ``kept`` properties of ``schema``, in that order
    (``msgspec.to_builtins`` then yields them in the order the stored form uses)."""
    assert schema.get("type") == "object" and schema.get("additionalProperties", True) is not False
    properties, required, defs = schema["properties"], set(schema["required"]), schema.get("$defs", {})
    assert set(properties) == set(kept), "the kept fields and the schema's properties differ"
    fields = [(name, _field_type(properties[name], defs)) if name in required
              else (name, _field_type(properties[name], defs) | msgspec.UnsetType, msgspec.UNSET)
              for name in kept]
    return msgspec.defstruct("WireEvent", fields, kw_only=True, frozen=True, forbid_unknown_fields=False)
