"""Background work of the pathways: timers fire without anyone online.

`parcours worker` calls `fire_due_timers` in a loop. An instance is taken with a lease (one
atomic update that only succeeds when nobody else holds it), so two workers never fire the
same timer twice; a worker that dies leaves a lease that expires. The step itself is also
guarded by the instance's revision, like every step (see app.pathways.steps).
"""

import logging
import os
import socket
import uuid
from datetime import timedelta

from app import db
from app.clock import utcnow
from app.pathways import steps
from app.pathways.models import PathwayInstance

LEASE = timedelta(minutes=5)
log = logging.getLogger(__name__)


def worker_name():
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _lease(now, owner, last):
    """The most overdue instance after `last` ({"next_timer_at", "_id"} of the one this round
    took before) that nobody holds, now held by `owner` (or None)."""
    queries = [{"status": s, "next_timer_at": {"$lte": now}} for s in ("running", "waiting")]
    found = db.lease_one(
        PathwayInstance._get_collection(), db.after(queries, "next_timer_at", last),
        "next_timer_at", owner, utcnow() + LEASE, utcnow(),
    )  # fmt: skip
    return PathwayInstance._from_son(found) if found else None


def _release(instance, owner):
    PathwayInstance.objects(id=instance.id, lease_owner=owner).update_one(
        unset__lease_owner=True, unset__lease_until=True
    )


def fire_due_timers(now=None, owner=None):
    """Fire the timers due at `now` (default: the clock) in every instance; returns how many
    instances moved. An instance whose step fails is left in error, the others go on."""
    now, owner = now or utcnow(), owner or worker_name()
    last, moved = None, 0
    while (instance := _lease(now, owner, last)) is not None:
        last = {"next_timer_at": instance.next_timer_at, "_id": instance.id}  # before it moves
        try:
            moved += _fire(instance, now)
        finally:
            _release(instance, owner)
    return moved


def _fire(instance, now):
    result = steps.apply(
        instance,
        steps.dossier_of(instance),
        lambda engine: engine.fire_timers(now),
        pending={"op": "timers"},
        audit_as="pathway.timers",
    )
    if result is None:
        log.warning("pathway instance %s: timers not fired (error or busy)", instance.id)
    return int(result is not None)
