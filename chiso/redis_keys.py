"""The Redis layout, in one place, shared by the stream worker (writes) and the
HTTP server and exporter (reads).

    {p}d:{dossier_id}        string "{version}|{json}": the dossier's event set and
                             the contribution it last applied (DossierState)
    {p}a:{unit}:{bucket}     hash field -> count; bucket = YYYY-MM-DD | YYYY-MM | YYYY
    {p}units                 set of unit ids that have counters
    {p}years                 set of years that hold any dated counter
    {p}g                     hash of global counters: orphans, dup, ev:{type}, inv:{reason}
    {p}wm                    hash "{topic}:{partition}" -> last applied offset
    {p}applied_at            unix time of the last applied batch

Redis Cluster is not supported: the apply script touches keys of many slots.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "chiso:"

    def dossier(self, dossier_id: str) -> str:
        return f"{self.prefix}d:{dossier_id}"

    def counters(self, unit: str, bucket: str) -> str:
        return f"{self.prefix}a:{unit}:{bucket}"

    @property
    def units(self) -> str:
        return f"{self.prefix}units"

    @property
    def years(self) -> str:
        return f"{self.prefix}years"

    @property
    def globals(self) -> str:
        return f"{self.prefix}g"

    @property
    def watermarks(self) -> str:
        return f"{self.prefix}wm"

    @property
    def applied_at(self) -> str:
        return f"{self.prefix}applied_at"


def watermark_field(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"
