"""Small helpers shared by the test modules (import them: `from helpers import html`)."""

import re

import mongoengine

# The password of every account that conftest's `make_user` creates.
PASSWORD = "correct-horse-battery"
# Every collection the features write, to compare before and after a refused request.
COLLECTIONS = ("users", "structures", "api_tokens", "audit_events", "login_throttles")


def snapshot(collections=COLLECTIONS):
    db = mongoengine.get_db()
    return {name: list(db[name].find({}, sort=[("_id", 1)])) for name in collections}


def html(response):
    return response.get_data(as_text=True)


def field_error(page, name):
    """The French message shown under the field `name`, or None."""
    match = re.search(rf'<div class="invalid-feedback" id="e-{name}">([^<]*)</div>', page)
    return match.group(1) if match else None


def run_at_once(work, count=2):
    """Run `work(name)` in `count` threads started together (two workers racing for the same
    leases); returns the exceptions they raised, an empty list when none did."""
    import threading

    errors = []

    def guarded(name):
        try:
            work(name)
        except Exception as error:  # noqa: BLE001 - returned to the test, which asserts on it
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(f"worker-{n}",)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
