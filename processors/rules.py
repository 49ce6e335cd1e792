"""The rules that decide what an event set contributes to the stored counters.

They shape what is written, not only how it is read, so every worker must use
the same ones and changing one needs `chiso rebuild` (the rest of the index
settings, maxima, thresholds and caps, apply when an answer is read).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class CountingRules:
    # index.md §2 rule 4: a second supplement request makes a dossier late.
    second_supplement_is_late: bool = True
    # index.md §3 dossier_sync: a sync counts if within this delay of the dossier's
    # last change before it; None: any sync counts.
    sync_max_delay: timedelta | None = None
    # index.md §3: a petition without due_at is due at the end of office hours on
    # this working day after its reception.
    petition_working_days: int = 15

    def fingerprint(self) -> str:
        """A short text that changes when a rule does (kept with the state)."""
        delay = "none" if self.sync_max_delay is None else f"{self.sync_max_delay.total_seconds():g}"
        return f"s2={int(self.second_supplement_is_late)};sync={delay};pd={self.petition_working_days}"
