"""Posting the queued deliveries, with retries: nothing is lost when the receiver is down,
nothing is sent again once delivered, two workers never post the same one at once.

`deliver_due` takes one due delivery at a time with a lease (app.db.lease_one, as the e-mail
queue does), posts it and writes the outcome under the same lease. A 2xx answer delivers it.
Any other answer, a refused address, a connection error or a timeout is a failed attempt: the
next one waits 1 min, 5 min, 30 min, 2 h, then 12 h; after the sixth the delivery is `failed`,
in the subscription's log. (The e-mail queue's `retry_delay` grows ×4 up to 6 h; a receiving
software down for a night's maintenance needs the 12 h step, hence a table of its own.)

The address is checked again before each attempt (a name may now point inside the network)
and the connection goes to the very address that was checked: no second lookup in between.
Redirections are not followed (a 3xx is a failed attempt): they would lead past the check.

The log does not grow forever: `forget_old` deletes the finished deliveries (delivered,
failed, cancelled) of events older than WEBHOOKS_LOG_DAYS; a pending one stays, whatever its
age. A failed delivery sent again from the log ("Renvoyer", services.retry_delivery) is
pending, due at once, with a new round of attempts.
"""

import hashlib
import hmac
import logging
from datetime import timedelta
from functools import partial

import urllib3
from flask import current_app

from app import __version__, db
from app.clock import utcnow
from app.pathways.worker import worker_name
from plugins.webhooks import addresses
from plugins.webhooks.models import WebhookDelivery, WebhookSubscription

RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
FINISHED = ("delivered", "failed", "cancelled")  # never "pending": still to be sent
LEASE = timedelta(minutes=2)  # far longer than an attempt can take (WEBHOOKS_TIMEOUT ≤ 30 s)
log = logging.getLogger(__name__)


# Write what became of a leased delivery, if `owner` still holds it, and let it go.
_finish = partial(db.release, WebhookDelivery)


def signature(secret, timestamp, body):
    """The X-Parcours-Signature value: `t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`."""
    signed = f"{timestamp}.{body}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def headers_for(delivery, secret, parts):
    return {
        "Host": parts.netloc,
        "Content-Type": "application/json",
        "User-Agent": f"Parcours-Webhooks/{__version__}",
        "X-Parcours-Event": delivery.event,
        "X-Parcours-Delivery": str(delivery.id),
        "X-Parcours-Signature": signature(secret, int(utcnow().timestamp()), delivery.body),
    }


def _pool(parts, address, config):
    timeout = urllib3.Timeout(total=float(config["WEBHOOKS_TIMEOUT"]))
    options = {"timeout": timeout, "retries": False, "maxsize": 1}
    if parts.scheme == "http":  # only with WEBHOOKS_ALLOW_PRIVATE (tests, a local network)
        return urllib3.HTTPConnectionPool(address, parts.port or 80, **options)
    host = parts.hostname
    return urllib3.HTTPSConnectionPool(
        address, parts.port or 443, cert_reqs="CERT_REQUIRED",
        ca_certs=config["WEBHOOKS_CA_BUNDLE"] or None,  # None: the system's authorities
        server_hostname=host, assert_hostname=host, **options,
    )  # fmt: skip


def attempt(delivery, subscription, config):
    """Post `delivery` once: (HTTP status or None, French error or None)."""
    timeout = float(config["WEBHOOKS_TIMEOUT"])
    try:
        parts, found = addresses.check(subscription.url, config["WEBHOOKS_ALLOW_PRIVATE"])
    except addresses.Refused as refused:
        return None, f"Adresse refusée : {refused}"
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    headers = headers_for(delivery, subscription.secret, parts)
    try:
        with _pool(parts, found[0], config) as pool:
            response = pool.urlopen("POST", target, body=delivery.body.encode(), headers=headers,
                                    redirect=False, preload_content=False,
                                    assert_same_host=False)  # fmt: skip
            status = response.status
            response.close()  # the answer's body is not read: only its status counts
    except urllib3.exceptions.NewConnectionError as error:  # a ConnectTimeoutError's subclass
        return None, f"Connexion impossible : {error}"[:500]
    except urllib3.exceptions.TimeoutError:
        return None, f"Pas de réponse dans le délai ({timeout:g} s)."
    except urllib3.exceptions.SSLError as error:
        return None, f"Connexion TLS refusée : {error}"[:500]
    except (urllib3.exceptions.HTTPError, OSError) as error:
        return None, f"Connexion impossible : {error}"[:500]
    if 200 <= status < 300:
        return status, None
    return status, f"Réponse HTTP {status} (attendu : 2xx)."


def _record(delivery, owner, now, status, error):
    attempts = delivery.attempts + 1
    tried = {"set__attempts": attempts, "set__last_attempt_at": utcnow(),
             "set__last_status": status}  # fmt: skip
    if error is None:
        _finish(delivery, owner, set__status="delivered", set__delivered_at=utcnow(),
                unset__last_error=True, unset__next_attempt_at=True, **tried)  # fmt: skip
        return "delivered"
    if attempts >= MAX_ATTEMPTS:
        _finish(delivery, owner, set__status="failed", set__failed_at=utcnow(),
                set__last_error=error, unset__next_attempt_at=True, **tried)  # fmt: skip
        log.warning("webhook %s failed after %s attempts: %s", delivery.id, attempts, error)
        return "failed"
    _finish(delivery, owner, set__last_error=error,
            set__next_attempt_at=now + RETRY_DELAYS[attempts - 1], **tried)  # fmt: skip
    return "retry"


def deliver_due(now=None, owner=None):
    """Post the deliveries due at `now` (default: the clock); returns {outcome: count}
    (delivered, retry, failed, cancelled)."""
    config = current_app.config
    now, owner = now or utcnow(), owner or worker_name()
    counts, share = {}, config["WORKER_QUEUE_SECONDS"]
    subscriptions = {}  # read once per round each: many deliveries share one subscription
    for delivery in db.leased_due(WebhookDelivery, now, owner, LEASE, share):
        if delivery.subscription not in subscriptions:
            subscriptions[delivery.subscription] = WebhookSubscription.objects(
                id=delivery.subscription
            ).first()
        subscription = subscriptions[delivery.subscription]
        if subscription is None or not subscription.active:  # deleted or paused meanwhile
            db.release(
                WebhookDelivery,
                delivery,
                owner,
                set__status="cancelled",
                unset__next_attempt_at=True,
            )
            outcome = "cancelled"
        else:
            outcome = _record(delivery, owner, now, *attempt(delivery, subscription, config))
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def old_finished(now):
    """The queries of the deliveries `forget_old` deletes at `now`: one per finished status,
    each an equality and a range on the (status, created_at) index. ($in on the status
    makes the embedded server read every delivery of those statuses, whatever the range:
    README, "Queries".)"""
    limit = now - timedelta(days=current_app.config["WEBHOOKS_LOG_DAYS"])
    return [{"status": status, "created_at": {"$lt": limit}} for status in FINISHED]


def forget_old(now=None):
    """Delete the finished deliveries of events older than WEBHOOKS_LOG_DAYS before `now`
    (default: the clock); returns how many went.

    Deleted on the server, never loaded: QuerySet.delete would fetch and delete them one by
    one as soon as anyone listens to their deletion. Not bounded: the job runs every few
    seconds, so a round deletes the few that just passed the limit; only the first round
    after an upgrade or a long stop has a backlog, read on the index all the same."""
    collection = WebhookDelivery._get_collection()
    queries = old_finished(now or utcnow())
    return sum(collection.delete_many(query).deleted_count for query in queries)


def run(now):
    """The worker job: what it did, in words, or "" when nothing was due."""
    counts = deliver_due(now)
    counts["forgotten"] = forget_old(now)
    labels = {"delivered": "livrée(s)", "retry": "à retenter", "failed": "en échec",
              "cancelled": "annulée(s)", "forgotten": "effacée(s) du journal"}  # fmt: skip
    return ", ".join(f"{counts[k]} {label}" for k, label in labels.items() if counts.get(k))
