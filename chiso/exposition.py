"""Prometheus text exposition (format 0.0.4), fast enough for large catalogues.

prometheus_client's ``generate_latest`` validates and escapes every label name
of every sample: for 1,000 units x 7 windows (~200k series) that was ~7 s of a
scrape. Here label names are fixed per family and each distinct label value is
escaped once. Collectors still yield ordinary metric families; the big per-unit
ones are ``BlocksFamily`` (sample lines already rendered and kept between scrapes).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class BlocksFamily(Metric):
    """A gauge family whose sample lines are already rendered and encoded, e.g.
    kept per unit between scrapes: a scrape of a large catalogue then joins bytes
    instead of encoding tens of MB of text again. Rendered by ``render`` only."""

    def __init__(self, name: str, documentation: str, blocks: list[bytes]) -> None:
        super().__init__(name, documentation, "gauge")
        self.blocks = blocks


def escape_label(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def sample_value(v: float) -> str:
    if isinstance(v, int):
        return f"{v}.0"
    if not v or v != v:  # 0.0 and -0.0 are one key, NaN never found: not remembered
        return floatToGoString(v)
    text = _FLOAT_TEXT.get(v)
    if text is None:
        if len(_FLOAT_TEXT) >= _FLOAT_TEXT_MAX:
            _FLOAT_TEXT.clear()
        text = _FLOAT_TEXT[v] = floatToGoString(v)
    return text


# Float -> its exposition text, remembered: a warm scrape writes ~10k values, most
# of them repeated (points rounded to 2 decimals, maxima, ratios of small counts).
# Bounded; a data race between scrape threads at worst formats a value twice.
_FLOAT_TEXT: dict[float, str] = {}
_FLOAT_TEXT_MAX = 1 << 16


def render(families: Iterable[Metric]) -> bytes:
    out: list[bytes] = []
    for family in families:
        name = family.name + ("_total" if family.type == "counter" else "")
        doc = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
        text = [f"# HELP {name} {doc}\n# TYPE {name} {family.type}\n"]
        if isinstance(family, BlocksFamily):
            out.append(text[0].encode())
            out.extend(family.blocks)
            continue
        for s in family.samples:
            if s.labels:
                labels = ",".join(f'{k}="{escape_label(v)}"' for k, v in sorted(s.labels.items()))
                text.append(f"{s.name}{{{labels}}} {sample_value(s.value)}\n")
            else:
                text.append(f"{s.name} {sample_value(s.value)}\n")
        out.append("".join(text).encode())
    return b"".join(out)


def render_registry(registry: CollectorRegistry) -> bytes:
    return render(registry.collect())
