"""Numbers read from the query string (pages, versions, positions), the same way for the web
and the API."""

from flask import request

MAX_PER_PAGE = 100
# MongoDB compares 64-bit integers only: a larger number is brought back to the nearest one,
# which means the same (no such version, everything before it, nothing after it).
INT64 = (-(2**63), 2**63 - 1)


def int_arg(name, default=None, source=None):
    """`?name=` (or `source[name]`) as an integer MongoDB can use; `default` when absent or
    not a number."""
    value = (request.args if source is None else source).get(name, default, type=int)
    return value if value is None else min(max(value, INT64[0]), INT64[1])


def page_number():
    """`?page=`, 1 when absent, not a number or below 1."""
    return max(1, request.args.get("page", 1, type=int) or 1)


def page_size(default=50):
    """`?per_page=`, between 1 and MAX_PER_PAGE."""
    size = request.args.get("per_page", default, type=int) or default
    return min(MAX_PER_PAGE, max(1, size))
