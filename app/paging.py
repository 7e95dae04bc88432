"""Page numbers read from the query string, the same way for the web and the API."""

from flask import request

MAX_PER_PAGE = 100


def page_number():
    """`?page=`, 1 when absent, not a number or below 1."""
    return max(1, request.args.get("page", 1, type=int) or 1)


def page_size(default=50):
    """`?per_page=`, between 1 and MAX_PER_PAGE."""
    size = request.args.get("per_page", default, type=int) or default
    return min(MAX_PER_PAGE, max(1, size))
