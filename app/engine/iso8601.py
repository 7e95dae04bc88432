"""ISO 8601 durations, dates and cycles as pathway timers and due delays write them."""

import re
from datetime import datetime, timedelta

# ISO 8601 durations in whole units: P1Y2M3DT4H5M6S, or weeks alone (P2W), never just "P"/"PT"
_DURATION = re.compile(r"P(?!$)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?|P\d+W")


def is_iso_duration(text):
    """True for an ISO 8601 duration such as P7D, PT12H, P1M, P2W."""
    return isinstance(text, str) and _DURATION.fullmatch(text) is not None


def _is_iso_datetime(text):
    # SpiffWorkflow reads a date without offset in the server's time zone: require one
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except (TypeError, ValueError):
        return False


def _is_iso_cycle(text):
    # R[n]/duration, R[n]/start/duration or R[n]/duration/end, as SpiffWorkflow accepts them
    match = re.fullmatch(r"R\d*/([^/]+)(?:/([^/]+))?", text) if isinstance(text, str) else None
    if not match:
        return False
    first, second = match.groups()
    if second is None:
        return is_iso_duration(first)
    return (is_iso_duration(first) and _is_iso_datetime(second)) or (
        _is_iso_datetime(first) and is_iso_duration(second)
    )


TIMER_KINDS = {  # BPMN element -> (kind, check, example); SpiffWorkflow's order of precedence
    "timeDate": ("date", _is_iso_datetime, "2026-01-31T09:00:00+01:00"),
    "timeDuration": ("duration", is_iso_duration, "P7D"),
    "timeCycle": ("cycle", _is_iso_cycle, "R3/P1M"),
}


_UNITS = re.compile(r"(\d+)([YMWDHS])")


def duration_of(text):
    """A due delay as a timedelta: years count 365 days and months 30 (a due date, not a
    calendar); None if `text` is not an ISO 8601 duration."""
    if not is_iso_duration(text):
        return None
    date_part, _, time_part = text[1:].partition("T")
    days = {"Y": 365, "M": 30, "W": 7, "D": 1}
    seconds = {"H": 3600, "M": 60, "S": 1}
    total = timedelta()
    for number, unit in _UNITS.findall(date_part):
        total += timedelta(days=int(number) * days[unit])
    for number, unit in _UNITS.findall(time_part):
        total += timedelta(seconds=int(number) * seconds[unit])
    return total


def cycle_of(text):
    """(repetitions, period) of an ISO 8601 cycle such as R5/PT1H or R/start/P1D:
    repetitions is None when unbounded ("R/"), period a timedelta (see duration_of); None
    if `text` is not a cycle."""
    if not _is_iso_cycle(text):
        return None
    count, first, second = re.fullmatch(r"R(\d*)/([^/]+)(?:/([^/]+))?", text).groups()
    period = duration_of(first) or duration_of(second or "")
    return (int(count) if count else None), period


def repeats(text):
    """Whether a cycle fires more than once."""
    found = cycle_of(text)
    return found is not None and (found[0] is None or found[0] > 1)


def french_duration(seconds):
    """A span for people: "1 h", "10 min", "1 j 2 h", "0 s" (two units at most)."""
    seconds = max(0, int(seconds))
    parts = []
    for size, unit in ((86400, "j"), (3600, "h"), (60, "min"), (1, "s")):
        if seconds >= size and len(parts) < 2:
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts) or "0 s"
