"""Failed passwords count per account *and* client address: LOGIN_MAX_FAILURES in a row lock
that pair, not the account, for LOGIN_LOCK_MINUTES. Someone guessing from one place cannot
lock the account's owner out from another (nor the platform admin out of the platform). What
is kept of an address is a keyed digest, never the address. The sign-in answers a locked pair
as it answers a wrong password or an unknown account: nothing tells that the account exists
or is locked. The rate limit per address (LOGIN_RATE_LIMIT) stays in front of it all."""

import hmac
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from pymongo.errors import DuplicateKeyError

from app import db
from app.accounts.models import LoginThrottle


@dataclass
class Attempt:
    """A sign-in of one account from one address: the pair's key, and its record if any."""

    key: str
    record: dict | None

    def locked(self, now):
        until = (self.record or {}).get("locked_until")
        return until is not None and until > now


def _key(user, address):
    secret = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(secret, (address or "-").encode(), "sha256").hexdigest()[:32]
    return f"{user.id}:{digest}"


def attempt(user, address, now):
    """The record of `user`'s failures from `address` (one read); an outdated one is none."""
    key = _key(user, address)
    record = LoginThrottle._get_collection().find_one({"_id": key})
    if record is not None and record["expires_at"] <= now:
        # Outdated: forgotten, unless a parallel failure renewed it meanwhile.
        LoginThrottle._get_collection().delete_one({"_id": key, "expires_at": record["expires_at"]})
        record = None
    return Attempt(key, record)


def count_failure(user, attempt, now):
    """One more failure of the pair; the last one allowed locks it. The count is atomic:
    parallel guesses from one address cannot slip past the lock."""
    config = current_app.config
    collection = LoginThrottle._get_collection()
    keep = now + timedelta(minutes=config["LOGIN_LOCK_MINUTES"])
    failures = None
    if attempt.record is None:
        try:
            collection.insert_one(
                {"_id": attempt.key, "user": user.id, "failures": 1, "expires_at": keep}
            )
            failures = 1
        except DuplicateKeyError:
            pass  # a parallel failure made the record first: count on it
    if failures is None:
        failures = db.increment(collection, attempt.key, "failures", also={"expires_at": keep})
    if failures is not None and failures >= config["LOGIN_MAX_FAILURES"]:
        collection.update_one(
            {"_id": attempt.key},
            {"$set": {"failures": 0, "locked_until": keep, "expires_at": keep}},
        )


def forget(attempt):
    """The pair signed in: its failures are forgotten."""
    if attempt.record is not None:
        LoginThrottle._get_collection().delete_one({"_id": attempt.key})


def forget_account(user):
    """The account's owner proved themself otherwise (a new password by e-mail): every
    address's failures and locks of the account are forgotten."""
    LoginThrottle.objects(user=user.id).delete()
