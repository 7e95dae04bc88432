"""Small helpers shared by the test modules (import them: `from helpers import html`)."""

import re

import mongoengine

# The password of every account that conftest's `make_user` creates.
PASSWORD = "correct-horse-battery"
# Every collection the features write, to compare before and after a refused request.
COLLECTIONS = ("users", "structures", "api_tokens", "audit_events")


def snapshot(collections=COLLECTIONS):
    db = mongoengine.get_db()
    return {name: list(db[name].find({}, sort=[("_id", 1)])) for name in collections}


def html(response):
    return response.get_data(as_text=True)


def field_error(page, name):
    """The French message shown under the field `name`, or None."""
    match = re.search(rf'<div class="invalid-feedback" id="e-{name}">([^<]*)</div>', page)
    return match.group(1) if match else None
