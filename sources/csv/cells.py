"""Parsers for one cell: amounts in Vietnamese notation, local date-times."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sources.csv.mapping import norm

# -- cell parsers ------------------------------------------------------------------

_CURRENCY = re.compile(r"\s*(vnđ|vnd|đồng|đ|₫)\.?$")
_THOUSANDS = re.compile(r"\d{1,3}(?:\.\d{3})+|\d{1,3}(?:,\d{3})+")
_DECIMAL = re.compile(r"(\d{1,3}(?:([.,])\d{3})*|\d+)([.,])(\d{1,2})")


def parse_amount(text: str) -> int:
    """A VND amount as exports write it: '75.000', '1.200.000 đ', '50,000', '50000.00'."""
    s = _CURRENCY.sub("", norm(text)).replace(" ", "").replace("\u00a0", "")
    if s.isdigit():
        return int(s)
    if _THOUSANDS.fullmatch(s):
        return int(s.replace(".", "").replace(",", ""))
    m = _DECIMAL.fullmatch(s)
    if m and m.group(2) != m.group(3) and int(m.group(4)) == 0:  # '50000.00', '1.200.000,00'
        return int(re.sub(r"[.,]", "", m.group(1)))
    raise ValueError(text)


def parse_datetime(text: str, formats: Iterable[str], tz: ZoneInfo, default_time: time) -> tuple[datetime, bool]:
    """(local instant, whether the text had a time of day). Raises ValueError."""
    s = " ".join(text.split())
    for fmt in formats:
        try:
            value = datetime.strptime(s, fmt)
        except ValueError:
            continue
        has_time = any(d in fmt for d in ("%H", "%I", "%M"))
        if value.tzinfo is not None:
            return value.astimezone(tz), has_time
        if not has_time:
            value = datetime.combine(value.date(), default_time)
        return value.replace(tzinfo=tz), has_time
    raise ValueError(text)


def instant(value: datetime) -> str:
    return value.isoformat(timespec="seconds")
