"""The wall's settings: ``CHISO_WALL_*`` environment variables (docs/wall.md)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class WallSettings(BaseSettings):
    """``CHISO_WALL_*`` environment variables (docs/wall.md)."""

    model_config = SettingsConfigDict(env_prefix="CHISO_WALL_", extra="ignore")

    poll_s: float = 0.5          # how often the server reads applied_at from Redis (one GET)
    refresh_s: float = 15.0      # rebuild at least this often: open dossiers age without events
    lag_every_s: float = 5.0     # how often the consumer lag is probed while displays watch
    stale_after_s: float = 60.0  # events waiting and nothing applied for this long: stale
    heartbeat_s: float = 5.0     # a status event at least this often
    idle_stop_s: float = 30.0    # the poller stops this long after the last display left
    rotate_s: int = 20           # default seconds per view on the wall
    window: str = "30d"          # default window of the wall
    ticker: int = 15             # most urgent dossiers shown per state (overdue, nearing due)
    top: int = 10                # units in each of the best and worst lists
    fast_every_s: float = 1.0    # score, open dossiers, today's trend point: at most this often
    slow_every_s: float = 3.0    # the ranking: at most this often
    max_busy: float = 0.5        # and a group at most every (cost of its last rebuild / max_busy) s
    trend_full_s: float = 60.0   # the trend's dates are all re-read this often; today's on every rebuild
