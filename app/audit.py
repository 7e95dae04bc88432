"""Append-only, hash-chained audit trail.

Each event stores the hash of the previous one and its own hash over its content, so altering,
removing or inserting an event breaks the chain from that point: `verify()` finds the first
broken link. Events are numbered; a unique index on the number serialises concurrent writers.
"""

import hashlib
import json
import threading
from datetime import UTC

from flask import has_request_context, request
from mongoengine import DateTimeField, DictField, Document, IntField, StringField
from mongoengine.errors import NotUniqueError

from app import policy
from app.clock import utcnow
from app.policy import SYSTEM

GENESIS = "0" * 64
MAX_RETRIES = 20


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
    return str(actor.id), actor.email


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


def record(actor, action, obj=None, *, object_type=None, object_id=None, dossier=None, **details):
    """Append one event: `actor` did `action` on `obj` (a document) with `details`."""
    actor_id, actor_label = _actor(actor)
    if obj is not None:
        object_type = object_type or type(obj).__name__
        object_id = object_id or str(obj.id)
    _ensure_unique_seq()
    now = utcnow()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # what Mongo keeps
    for _ in range(MAX_RETRIES):
        last = AuditEvent.objects.order_by("-seq").only("seq", "hash").first()
        event = AuditEvent(
            seq=(last.seq + 1) if last else 1,
            time=now,
            actor=actor_id,
            actor_label=actor_label,
            action=action,
            object_type=object_type,
            object_id=object_id,
            dossier=dossier,
            origin=_origin(),
            details=details,
            prev_hash=last.hash if last else GENESIS,
        )
        event.hash = compute_hash(event)
        try:
            event.save(force_insert=True)
            return event
        except NotUniqueError:
            continue  # another writer took this number: chain after it
    raise RuntimeError("could not append to the audit trail")


def list_events(actor, action="", page=1, per_page=50):
    """The trail, newest first, optionally for one action (platform admin)."""
    policy.require(actor, "audit.view")
    events = AuditEvent.objects(action=action) if action else AuditEvent.objects
    return events.order_by("-seq").skip((page - 1) * per_page).limit(per_page)


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
    return checked, None
