"""The daily digest: one e-mail per user and day, counting the notices that waited for it.

From DIGEST_HOUR (France) on, each round of the worker sends the digest of every user with
waiting notices who had none that day. A notice read in the app meanwhile, or of a kind the
user no longer wants by e-mail, is left out. Two workers cannot both send one: the mail's key
(user and day) is unique in the queue.
"""

from collections import Counter

from flask import current_app
from mongoengine.errors import NotUniqueError

from app.accounts.models import User
from app.clock import PARIS, utcnow
from app.notifications import mail
from app.notifications.kinds import EMAIL_CHANNELS
from app.notifications.models import Notification, NotificationPreference
from app.notifications.services import preferences_of


def send_digests(now=None):
    """Queue the digests due at `now` (default: the clock); returns how many were queued."""
    now = now or utcnow()
    local = now.astimezone(PARIS)
    if local.hour < current_app.config["DIGEST_HOUR"]:
        return 0
    day = local.date().isoformat()
    waiting = Notification.objects(mail="digest").distinct("user")
    if not waiting:
        return 0
    preferences = preferences_of(waiting)
    due = [uid for uid in waiting if preferences[uid].last_digest != day]
    accounts = {
        u.id: u
        for u in User.objects(id__in=due).only("id", "email", "status")
        if u.status == "active"
    }
    queued = 0
    for uid in due:
        queued += _digest(accounts.get(uid), uid, preferences[uid], day)
    return queued


def _digest(user, uid, preference, day):
    notices = list(Notification.objects(user=uid, mail="digest").only("id", "kind", "read_at"))
    wanted = [
        n
        for n in notices
        if user is not None and n.read_at is None and preference.channel(n.kind) in EMAIL_CHANNELS
    ]
    chosen = {n.id for n in wanted}
    left_out = [n.id for n in notices if n.id not in chosen]
    if left_out:
        Notification.objects(id__in=left_out, mail="digest").update(set__mail="skipped")
    if not wanted:
        return 0
    try:
        mail.digest_mail(user, Counter(n.kind for n in wanted), day).save(force_insert=True)
    except NotUniqueError:
        return 0  # another worker queued it
    NotificationPreference._get_collection().update_one(
        {"_id": uid}, {"$set": {"last_digest": day}}, upsert=True
    )
    Notification.objects(id__in=list(chosen), mail="digest").update(set__mail="digested")
    return 1
