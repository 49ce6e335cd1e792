"""The simulator's knobs (docs/simulator.md), calibrated to Quảng Nam's published 2024 figures."""

from __future__ import annotations

import math
from dataclasses import dataclass

# -- config -----------------------------------------------------------------------


@dataclass(frozen=True)
class SimConfig:
    """Rates of the simulated province. Defaults follow Quảng Nam's published
    figures for 15/3-14/6/2024 and the Quảng Nam scenario's choices where the
    report is silent (docs/simulator.md); shares are of all dossiers unless said
    otherwise. Which procedure a dossier is for, its online-service level, fee
    and citizen flag come from the procedure catalogue."""

    # 105,344 received over the 63 working days of that period.
    dossiers_per_working_day: float = 1672.0
    channel_online: float = 0.732  # published: 77,112 of 105,344
    channel_postal: float = 0.012  # not published: bưu chính công ích is small
    fee_exempt_share: float = 0.08  # of dossiers of fee procedures: exempt (policy beneficiaries, poor households)
    online_payment_share: float = 0.74  # of payments (scenario: 61,845 of 83,200)
    digitized_share: float = 0.8  # components digitised at reception
    e_result_share: float = 0.93  # of resolved: electronic result (scenario: 89,542 of 95,926)
    reused_data_share: float = 0.6  # a component re-uses digitised data
    personal_store_share: float = 0.28  # of online dossiers: a component from the applicant's data store
    citizen_data_share: float = 0.9  # of dossiers of citizen procedures: VNeID or population data used
    supplement_probability: float = 0.05  # yêu cầu bổ sung, one round
    pause_probability: float = 0.01  # tạm dừng
    extension_probability: float = 0.03  # gia hạn (due_changed), asked before the due
    late_share: float = 0.08  # of resolved; published: 18.4 / 20 points on time
    apology_share: float = 0.85  # of late dossiers; Decree 61/2018 wants one for each
    rating_share: float = 0.45  # resolved dossiers that get rated
    satisfaction: float = 0.978  # satisfied or very satisfied
    very_satisfied_share: float = 0.6  # of the satisfied
    sync_share: float = 0.67  # synced to the national portal (scenario: 70,580 of 105,344)
    complaint_share: float = 0.004  # dossiers the applicant complains about
    withdrawn_share: float = 0.001  # published: none; kept small but present
    rejected_share: float = 0.002
    stopped_share: float = 0.001  # dừng xử lý
    # Petitions (phản ánh, kiến nghị): a few per unit and month, more at busy desks.
    petitions_per_unit_month: float = 3.0
    petition_due_given_share: float = 0.3  # the unit sets a (shorter) limit itself
    petition_staff_share: float = 0.2  # about the staff rather than the procedure
    petition_late_share: float = 0.02  # answered after the limit (scenario: 3 of 218)
    petition_rating_share: float = 0.55  # of answered
    petition_dissatisfied_share: float = 0.05  # of ratings
    petition_reopened_share: float = 0.01  # of answered
    source: str = "igate-dng"

    def __post_init__(self) -> None:
        for name in ("dossiers_per_working_day", "petitions_per_unit_month"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0")
        for name in _SHARE_FIELDS:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        if self.channel_online + self.channel_postal > 1.0:
            raise ValueError("channel_online + channel_postal must not exceed 1")
        if self.withdrawn_share + self.rejected_share + self.stopped_share > 1.0:
            raise ValueError("withdrawn_share + rejected_share + stopped_share must not exceed 1")


_SHARE_FIELDS = tuple(
    name for name in SimConfig.__dataclass_fields__
    if name not in ("dossiers_per_working_day", "petitions_per_unit_month", "source")
)
