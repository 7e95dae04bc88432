from datetime import UTC, datetime


def utcnow():
    """Now, timezone-aware in UTC: the only clock services read."""
    return datetime.now(UTC)
