"""The simulator's knobs (docs/simulator.md), calibrated to Quảng Nam's published 2024 figures."""

from __future__ import annotations

import math
from dataclasses import dataclass

# -- config -----------------------------------------------------------------------


@dataclass(frozen=True)
class SimConfig:
    """Rates of the simulated province. Defaults are calibrated to Quảng Nam's
    published figures for 15/3-14/6/2024 (docs/simulator.md); shares are of all
    dossiers unless said otherwise."""

    # 105,344 received over the 63 working days of that period.
    dossiers_per_working_day: float = 1672.0
    channel_online: float = 0.732  # published: 77,112 of 105,344
    channel_postal: float = 0.012  # not published: bưu chính công ích is small
    # Shares of dossiers by the procedure's online service level (full, partial, none);
    # not published. With 14 % "none", 85 % of eligible dossiers come online.
    online_service_mix: tuple[float, float, float] = (0.55, 0.31, 0.14)
    fee_share: float = 0.35  # dossiers that owe a fee; not published
    online_payment_share: float = 0.76  # of payments; published: 7.6 / 10 points
    digitized_share: float = 0.75  # published only as the digitisation group, 15.6 / 22
    e_result_share: float = 0.668  # of resolved; (0.75 + 0.668) / 2 * 22 = 15.6
    supplement_probability: float = 0.05  # yêu cầu bổ sung, one round
    pause_probability: float = 0.01  # tạm dừng
    extension_probability: float = 0.03  # gia hạn (due_changed), asked before the due
    late_share: float = 0.08  # of resolved; published: 18.4 / 20 points on time
    apology_share: float = 0.85  # of late dossiers; Decree 61/2018 wants one for each
    rating_share: float = 0.45  # resolved dossiers that get rated
    satisfaction: float = 0.978  # satisfied or very satisfied; published: 17.6 / 18
    very_satisfied_share: float = 0.6  # of the satisfied
    sync_share: float = 0.733  # synced to the national portal; published: 13.2 / 18
    withdrawn_share: float = 0.001  # published: none; kept small but present
    rejected_share: float = 0.002
    source: str = "igate-dng"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.dossiers_per_working_day) and self.dossiers_per_working_day >= 0):
            raise ValueError("dossiers_per_working_day must be a finite number >= 0")
        for name in _SHARE_FIELDS:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        if self.channel_online + self.channel_postal > 1.0:
            raise ValueError("channel_online + channel_postal must not exceed 1")
        if len(self.online_service_mix) != 3 or any(x < 0 for x in self.online_service_mix) or not sum(self.online_service_mix):
            raise ValueError("online_service_mix is three non-negative shares (full, partial, none)")
        if self.withdrawn_share + self.rejected_share > 1.0:
            raise ValueError("withdrawn_share + rejected_share must not exceed 1")


_SHARE_FIELDS = tuple(
    name for name in SimConfig.__dataclass_fields__
    if name not in ("dossiers_per_working_day", "online_service_mix", "source")
)


