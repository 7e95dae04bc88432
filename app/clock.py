from datetime import UTC, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def utcnow():
    """Now, timezone-aware in UTC: the only clock services read."""
    return datetime.now(UTC)


def today():
    """Today's calendar day in France, as "YYYY-MM-DD" (how dossier dates are kept)."""
    return utcnow().astimezone(PARIS).date().isoformat()
