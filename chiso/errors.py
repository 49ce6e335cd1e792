"""Errors that explain: what the ``chiso`` command prints for a mistake.

Commands raise :class:`UserError` (or let a known error through); ``chiso.cli.main``
turns it into ONE line on stderr and a non-zero exit status, never a traceback.
``describe`` is that mapping, kept here so that it can be tested on its own.
"""

from __future__ import annotations

from pydantic import ValidationError

from chiso.settings import SettingsError, validation_lines


class UserError(Exception):
    """A mistake the user can fix. ``str(exc)`` is the whole message (one line);
    ``code`` the exit status (2: bad input or configuration, 1: a failure)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def describe(exc: BaseException) -> tuple[list[str], int] | None:
    """The lines to print and the exit status for a known error; None for a bug
    (which keeps its traceback)."""
    if isinstance(exc, UserError):
        return [str(exc)], exc.code
    if isinstance(exc, SettingsError):
        return [str(exc)], 2
    if isinstance(exc, ValidationError):
        return validation_lines(exc), 2
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)):
        where = f" {exc.filename}" if exc.filename else ""
        return [f"cannot read{where}: {exc.strerror or exc}"], 2
    from store.layout import LayoutMismatch

    if isinstance(exc, LayoutMismatch):  # the Redis Cluster layout and the partition count disagree
        return [str(exc)], 2
    import redis

    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return [f"không kết nối được Redis / cannot reach Redis: {exc}"], 1
    from kafka.errors import KafkaError  # kafka-python, what the commands produce with

    if isinstance(exc, KafkaError):  # e.g. "Unable to bootstrap from 127.0.0.1:1"
        return [f"lỗi Kafka / Kafka error: {exc}"], 1
    return None
