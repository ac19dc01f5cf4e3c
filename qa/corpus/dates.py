"""Publication dates: any common written form -> ISO yyyy-mm-dd, and a sortable integer."""

from __future__ import annotations

import email.utils
import logging
from datetime import date, datetime
from typing import Any

log = logging.getLogger(__name__)

_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y",
                 "%B %d %Y", "%Y%m%d", "%d.%m.%Y", "%d-%b-%Y")


def normalize_date(value: Any) -> str:
    """An ISO yyyy-mm-dd string for anything that clearly is a date, else ""."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    s = str(value).strip()
    try:
        return datetime.fromisoformat(s).date().isoformat()
    except ValueError:
        pass
    for candidate in dict.fromkeys((s, s.split()[0] if s.split() else s)):
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(candidate, fmt).date().isoformat()
            except ValueError:
                continue
    try:
        parsed = email.utils.parsedate_to_datetime(s)
        if parsed:
            return parsed.date().isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    log.debug("unrecognised date %r", s)
    return ""


def date_int(iso: str) -> int:
    """yyyymmdd as an int (0 when unknown), sortable and filterable in Chroma."""
    return int(iso.replace("-", "")) if iso else 0
