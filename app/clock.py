import contextlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

# Tests move the clock forward (a reminder due in 7 days) with `travel`; nothing else does.
_offset = timedelta(0)


def utcnow():
    """Now, timezone-aware in UTC: the only clock services read."""
    return datetime.now(UTC) + _offset


def today():
    """Today's calendar day in France, as "YYYY-MM-DD" (how dossier dates are kept)."""
    return utcnow().astimezone(PARIS).date().isoformat()


@contextlib.contextmanager
def travel(delta):
    """Within the block, the platform's clock runs `delta` ahead (tests only)."""
    global _offset
    previous, _offset = _offset, _offset + delta
    try:
        yield
    finally:
        _offset = previous
