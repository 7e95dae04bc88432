"""Append-only, hash-chained audit trail.

Each event stores the hash of the previous one and its own hash over its content, so altering,
removing or inserting an event breaks the chain from that point: `verify()` finds the first
broken link. Events are numbered; a unique index on the number serialises concurrent writers.

Every query here is an equality or a bounded range on `seq`: the embedded database reads every
document that matches a query before it applies `limit`, so "the last event" or "page 3" must
never be an open-ended sort. The tip document names the last number without a scan.
"""

import contextlib
import hashlib
import json
import random
import threading
import time
from contextvars import ContextVar
from datetime import UTC

from flask import has_request_context, request
from mongoengine import DateTimeField, DictField, Document, IntField, StringField
from pymongo.errors import BulkWriteError, DuplicateKeyError

from app import policy
from app.clock import utcnow
from app.policy import SYSTEM, ExternalSender

GENESIS = "0" * 64
# Another process (a gunicorn worker) may take the next number first: chain after it and try
# again, after a short random wait, for up to this long. Threads of one process take turns.
APPEND_PATIENCE = 30.0
TIP_ID = "tip"
# Events scanned per round trip when a page is filtered by action, and at most per page.
FILTER_WINDOW = 2000
FILTER_MAX_WINDOWS = 50


class AuditEvent(Document):
    seq = IntField(required=True, unique=True)
    time = DateTimeField(required=True)
    actor = StringField()  # user id, or "system"
    actor_label = StringField()  # the e-mail at the time of the event
    action = StringField(required=True)
    object_type = StringField()
    object_id = StringField()
    dossier = StringField()
    origin = StringField()
    details = DictField()
    prev_hash = StringField(required=True)
    hash = StringField(required=True)

    meta = {
        "collection": "audit_events",
        "indexes": [
            "-time",
            ("actor", "-seq"),
            ("object_type", "object_id", "-seq"),
            ("action", "-seq"),
        ],
        "ordering": ["-seq"],
    }

    def __repr__(self):
        return f"<AuditEvent #{self.seq} {self.action}>"


class AuditTip(Document):
    """The number and hash of the last event: a hint that saves a scan, the events are the truth."""

    id = StringField(primary_key=True, default=TIP_ID)
    seq = IntField(required=True)
    hash = StringField(required=True)

    meta = {"collection": "audit_tip"}


def _content(event):
    return {
        "seq": event.seq,
        "time": _iso(event.time),
        "actor": event.actor,
        "actor_label": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "dossier": event.dossier,
        "origin": event.origin,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }


def _iso(moment):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def compute_hash(event):
    canonical = json.dumps(_content(event), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _origin():
    if not has_request_context():
        return "cli"
    channel = "api" if request.path.startswith("/api/") else "web"
    return f"{channel} {request.remote_addr or '-'}"


def _actor(actor):
    if actor is None or actor is SYSTEM:
        return "system", "système"
    if isinstance(actor, ExternalSender):
        return "system", f"{actor.email} (reçu par la plateforme)"
    return str(actor.id), actor.email


def actor_id(actor):
    """How documents name who did something: a user id, or "system"."""
    return _actor(actor)[0]


_indexed_databases = set()
_index_lock = threading.Lock()


def _ensure_unique_seq():
    """Create the unique index on `seq` before the first write to a database.

    MongoEngine creates indexes lazily on a collection's first use, and a second thread can
    insert before that finishes: two events with one number would fork the chain.
    """
    name = AuditEvent._get_db().name
    if name in _indexed_databases:
        return
    with _index_lock:
        AuditEvent.ensure_indexes()
        _indexed_databases.add(name)


_BATCH: ContextVar[list | None] = ContextVar("parcours_audit_batch", default=None)


def record(actor, action, obj=None, *, object_type=None, object_id=None, dossier=None, **details):
    """Append one event: `actor` did `action` on `obj` (a document) with `details`."""
    actor_id, actor_label = _actor(actor)
    if obj is not None:
        object_type = object_type or type(obj).__name__
        object_id = object_id or str(obj.id)
    now = utcnow()
    event = AuditEvent(
        time=now.replace(microsecond=now.microsecond // 1000 * 1000),  # what Mongo keeps
        actor=actor_id,
        actor_label=actor_label,
        action=action,
        object_type=object_type,
        object_id=object_id,
        dossier=dossier,
        origin=_origin(),
        details=details,
    )
    batch = _BATCH.get()
    if batch is not None:
        batch.append(event)
    else:
        _append([event])
    return event


@contextlib.contextmanager
def batched():
    """Within the block, events are kept and chained at its end in one go (one tip read, one
    insert, one tip move) instead of three round trips each: for a step that writes several.
    They are written even when the block fails: what was done before the failure happened."""
    if _BATCH.get() is not None:
        yield
        return
    events = []
    token = _BATCH.set(events)
    try:
        yield
    finally:
        _BATCH.reset(token)
        if events:
            _append(events)


_append_turn = threading.Lock()


def _append(events):
    """Chain `events` after the tip and insert them; another writer who took a number first
    makes us chain after what it wrote. The threads of one process append in turn (they
    would only race each other for the same number); processes race, and the loser follows
    the winner's events and tries again until APPEND_PATIENCE runs out."""
    _ensure_unique_seq()
    collection = AuditEvent._get_collection()
    with _append_turn:
        last_seq, last_hash = tip()
        deadline = time.monotonic() + APPEND_PATIENCE
        while True:
            for event in events:
                last_seq += 1
                event.seq, event.prev_hash = last_seq, last_hash
                event.hash = last_hash = compute_hash(event)
            try:
                collection.insert_many([event.to_mongo() for event in events], ordered=True)
            except BulkWriteError as error:
                if any(e.get("code") != 11000 for e in error.details.get("writeErrors", [])):
                    raise
                done = error.details.get("nInserted", 0)
                if done:
                    _move_tip(events[done - 1].seq, events[done - 1].hash)
                events = events[done:]
                if time.monotonic() > deadline:
                    raise RuntimeError("could not append to the audit trail") from None
                time.sleep(random.uniform(0, 0.005))  # noqa: S311 - spreads racing processes
                last_seq, last_hash = _follow(events[0].seq - 1, events[0].prev_hash)
                continue
            _move_tip(events[-1].seq, events[-1].hash)
            return


def tip():
    """(number, hash) of the last event, or (0, GENESIS) for an empty trail."""
    found = AuditTip._get_collection().find_one({"_id": TIP_ID})
    return (found["seq"], found["hash"]) if found else (0, GENESIS)


def _follow(seq, digest):
    """Walk forward from event `seq` to the real end (the tip may lag after a crash)."""
    while True:
        following = AuditEvent.objects(seq=seq + 1).only("seq", "hash").first()
        if following is None:
            return seq, digest
        seq, digest = following.seq, following.hash


def _move_tip(seq, digest):
    # A DuplicateKeyError means a concurrent writer already moved it past `seq`.
    with contextlib.suppress(DuplicateKeyError):
        AuditTip._get_collection().update_one(
            {"_id": TIP_ID, "seq": {"$lt": seq}},
            {"$set": {"seq": seq, "hash": digest}},
            upsert=True,
        )


def list_events(actor, action="", before=None, per_page=50):
    """Up to `per_page` events numbered below `before` (default: all), newest first.

    Filtered by action, the trail is read backwards in bounded windows of numbers, at most
    FILTER_MAX_WINDOWS of them per page.
    Return (events, before): the number to pass as `before` for the next page, or None.
    """
    policy.require(actor, "audit.view")
    upper = tip()[0] + 1
    if before is not None:
        upper = max(1, min(before, upper))
    if not action:
        lower = max(1, upper - per_page)
        events = list(AuditEvent.objects(seq__gte=lower, seq__lt=upper).order_by("-seq"))
        return events, (lower if lower > 1 else None)
    events = []
    for _ in range(FILTER_MAX_WINDOWS):
        lower = max(1, upper - FILTER_WINDOW)
        window = AuditEvent.objects(action=action, seq__gte=lower, seq__lt=upper)
        events += window.order_by("-seq")
        upper = lower
        if len(events) >= per_page:
            upper = events[per_page - 1].seq
            return events[:per_page], upper
        if lower <= 1:
            return events, None
    return events, upper


def verify(batch_size=1000):
    """Return (events checked, None) if the chain holds, else (n, description of first break)."""
    expected_prev, expected_seq, checked = GENESIS, 1, 0
    for event in AuditEvent.objects.order_by("seq").batch_size(batch_size):
        if event.seq != expected_seq:
            return checked, f"event #{expected_seq} is missing (found #{event.seq} next)"
        if event.prev_hash != expected_prev:
            return checked, f"event #{event.seq} does not follow event #{event.seq - 1}"
        if compute_hash(event) != event.hash:
            return checked, f"event #{event.seq} ({event.action}) was altered"
        expected_prev, expected_seq = event.hash, expected_seq + 1
        checked += 1
    last_seq, last_hash = tip()
    if last_seq > checked or (last_seq == checked and checked and last_hash != expected_prev):
        return checked, f"events after #{checked} are missing (the trail reached #{last_seq})"
    return checked, None
