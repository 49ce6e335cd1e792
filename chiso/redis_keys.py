"""The Redis layout, in one place, shared by the stream worker (writes) and the
HTTP server and exporter (reads).

    {p}d:{dossier_id}        string "{version}|{deflated json}": the dossier's event
                             set and the contribution it last applied (DossierState)
    {p}a:{unit}:{bucket}     hash field -> count; bucket = YYYY-MM-DD | YYYY-MM | YYYY
    {p}units                 set of unit ids that have counters
    {p}years                 set of years that hold any dated counter
    {p}g                     hash of global counters: orphans, dup, ev:{type}, inv:{reason}
    {p}wm                    hash "{topic}:{partition}" -> last applied offset
    {p}applied_at            unix time of the last applied batch
    {p}seq, {p}unit_seq      change feed: a counter bumped by every batch that changes
                             counters, and per unit the value at its last change
    {p}open                  hash dossier -> JSON [unit, state, no_apology, alerted states]
    {p}o:{unit}:{state}      sorted set of the unit's open dossiers in that state
                             (state also overdue_no_apology), score = effective due
    {p}timer                 sorted set dossier -> unix time of its next state change
    {p}outbox                list of alerts queued, not yet published
    {p}alerts_pos            hash partition -> offset after the last published alert
    {p}publisher             lease of the one process publishing alerts

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

    def open_set(self, unit: str, state: str) -> str:
        return f"{self.prefix}o:{unit}:{state}"

    @property
    def seq(self) -> str:
        return f"{self.prefix}seq"

    @property
    def unit_seq(self) -> str:
        return f"{self.prefix}unit_seq"

    @property
    def open(self) -> str:
        return f"{self.prefix}open"

    @property
    def timer(self) -> str:
        return f"{self.prefix}timer"

    @property
    def outbox(self) -> str:
        return f"{self.prefix}outbox"

    @property
    def alerts_pos(self) -> str:
        return f"{self.prefix}alerts_pos"

    @property
    def publisher(self) -> str:
        return f"{self.prefix}publisher"

    @property
    def watermarks(self) -> str:
        return f"{self.prefix}wm"

    @property
    def applied_at(self) -> str:
        return f"{self.prefix}applied_at"


def watermark_field(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"
