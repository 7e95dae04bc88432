"""Notifications: create them for the people concerned, list and mark them, keep preferences.

`notify` is what the listeners call: it applies each recipient's preference (nothing, in the
app, plus an e-mail now or in the daily digest), writes the notices in one insert, moves the
unread counters in one write and queues the e-mails in one more.
"""

from datetime import UTC, datetime, timedelta

from bson import ObjectId
from flask import current_app, g
from pymongo import UpdateOne

from app import audit, plugins, policy
from app.clock import utcnow
from app.db import object_id
from app.errors import NotFound
from app.notifications import mail
from app.notifications.kinds import CHANNELS, KINDS
from app.notifications.mail import path_for
from app.notifications.models import (
    Notification,
    NotificationPreference,
    NotificationRate,
    OutgoingMail,
    UnreadCount,
)
from app.validation import check

NOT_FOUND = "Cette notification n'existe pas."
MAX_TEXT = 300
# Pages walk windows of time going back from the newest, twice as long each time; nothing is
# older than EPOCH (notifications did not exist before).
FIRST_WINDOW = timedelta(days=1)
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)

PREFERENCES = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "email": {
            "type": "boolean",
            "description": "false : ne plus rien recevoir par e-mail (les choix restent)",
        },
        "kinds": {
            "type": "object",
            "additionalProperties": False,
            "properties": {kind: {"enum": list(CHANNELS)} for kind in KINDS},
        },
    },
}


# --- creating notices --------------------------------------------------------------------------


def notify(people, kind, text, url, *, dossier=None, task=None):
    """Tell each of `people` (accounts) about `kind`, as their preferences say; returns the
    notifications made. `url` is a path, or a function of the recipient giving one. The text
    must name no patient and hold no form or message content.

    Past NOTIFY_MAX_PER_HOUR notices of `kind` in the hour, a person gets one notice that
    counts the others instead ("Et 12 autres…"), and no e-mail: a pathway whose timer fires
    every second must not bury anyone."""
    people = list({person.id: person for person in people}.values())
    if not people:
        return []
    preferences = preferences_of([person.id for person in people])
    made = []
    for person in people:
        channel = preferences[person.id].channel(kind)
        if channel == "off":
            continue
        made.append(
            (
                Notification(
                    id=ObjectId(),
                    user=person.id,
                    kind=kind,
                    text=text[:MAX_TEXT],
                    url=url(person) if callable(url) else url,
                    dossier=getattr(dossier, "id", None),
                    task=getattr(task, "id", None),
                    mail={"immediate": "queued", "digest": "digest"}.get(channel),
                ),
                person,
            )
        )
    if not made:
        return []
    made, folded = _within_hourly_cap(made, kind)
    notices = [n for n, _ in made] + folded
    if not notices:
        return []
    Notification._get_collection().insert_many([n.to_mongo() for n in notices])
    _move_unread({n.user: 1 for n in notices})
    mail.enqueue_notices([(n, person) for n, person in made if n.mail == "queued"])
    plugins.deliver_to_channels(made)
    return notices


def _within_hourly_cap(made, kind):
    """(the (notice, person) pairs within the hour's cap, the new notices that fold the
    others). Counts one more notice of `kind` per person (one write), reads the counts (one
    read by key); past the cap, the first notice folds the next ones, whose number it shows."""
    cap = current_app.config["NOTIFY_MAX_PER_HOUR"]
    if not cap:
        return made, []
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    keys = {person.id: f"{person.id}:{kind}:{hour:%Y%m%d%H}" for _, person in made}
    rates = NotificationRate._get_collection()
    rates.bulk_write(
        [UpdateOne({"_id": key}, {"$inc": {"count": 1}, "$setOnInsert": {"hour": hour}},
                   upsert=True) for key in keys.values()],
        ordered=False,
    )  # fmt: skip
    counts = {found["_id"]: found for found in rates.find({"_id": {"$in": list(keys.values())}})}
    within, folded, recounted = [], [], []
    for notice, person in made:
        key = keys[person.id]
        rate = counts.get(key, {})
        over = rate.get("count", 0) - cap
        text = _folded_text(kind, over, cap)
        if over <= 0:
            within.append((notice, person))
        elif rate.get("folded"):
            recounted.append(UpdateOne({"_id": rate["folded"]}, {"$set": {"text": text}}))
        elif rates.update_one(
            {"_id": key, "folded": None}, {"$set": {"folded": notice.id}}
        ).modified_count:
            # The first past the cap folds the next ones (unless a notify at the same moment
            # just did): in the app only, linked to the list.
            url = path_for("notifications.index")
            folded.append(Notification(id=notice.id, user=person.id, kind=kind, text=text, url=url))
    if recounted:
        Notification._get_collection().bulk_write(recounted, ordered=False)
    return within, folded


def _folded_text(kind, count, cap):
    others = "autre notification" if count == 1 else "autres notifications"
    return (
        f"Et {count} {others} « {KINDS[kind].label} » en une heure : au-delà de {cap}, elles "
        "sont regroupées ici, sans e-mail."
    )


def _move_unread(changes):
    """Add `changes` ({user id: +n or -n}) to the unread counters, in one write. A new notice
    also means a task may have moved: the inbox counts are recounted."""
    writes = [
        UpdateOne(
            {"_id": user},
            {"$inc": {"count": delta}, **({"$unset": {"tasks_at": ""}} if delta > 0 else {})},
            upsert=True,
        )
        for user, delta in changes.items()
        if delta
    ]
    if writes:
        UnreadCount._get_collection().bulk_write(writes, ordered=False)


def move_unread_messages(changes):
    """Add `changes` ({user id: +n or -n}) to the unread message counters, in one write."""
    writes = [
        UpdateOne({"_id": user}, {"$inc": {"messages": delta}}, upsert=True)
        for user, delta in changes.items()
        if delta
    ]
    if writes:
        UnreadCount._get_collection().bulk_write(writes, ordered=False)


def keep_task_counts(user, counts):
    UnreadCount._get_collection().update_one(
        {"_id": user.id}, {"$set": {"tasks": counts, "tasks_at": utcnow()}}, upsert=True
    )


def forget_task_counts(user_ids):
    """The inbox counts of these users are recounted at their next page."""
    ids = [i for i in user_ids if i]
    if ids:
        UnreadCount._get_collection().update_many(
            {"_id": {"$in": ids}}, {"$unset": {"tasks_at": ""}}
        )


def navigation_counters(user):
    """The navigation's numbers for `user` (the document above, or {}), read once per request."""
    cache = g.setdefault("navigation_counters", {})
    if user.id not in cache:
        cache[user.id] = UnreadCount._get_collection().find_one({"_id": user.id}) or {}
    return cache[user.id]


# --- reading and marking -------------------------------------------------------------------


def unread_count(user):
    """The bell's number: one read by key. The document may hold only the inbox's or the
    messages' counters (kept before the first notice): no "count" is 0."""
    found = UnreadCount._get_collection().find_one({"_id": user.id}, {"count": 1})
    return max(0, (found or {}).get("count", 0))


def page(actor, *, unread=False, after=None, per_page=20):
    """`actor`'s notifications, newest first: (a page, the cursor of the next one or None).

    Each query reads one window of `_id` (time) on the index, never all of a user's
    notifications; windows double going back until the page is full."""
    policy.require(actor, "notification.list")
    query = {"user": actor.id}
    if unread:
        query["read_at"] = None
    top = object_id(after) if after else None
    high = top or ObjectId.from_datetime(utcnow() + timedelta(seconds=1))
    found, span = [], FIRST_WINDOW
    moment = high.generation_time
    while len(found) <= per_page and moment > EPOCH:
        low = max(EPOCH, moment - span)
        window = {"$gte": ObjectId.from_datetime(low), "$lt": high}
        wanted = per_page + 1 - len(found)
        found += list(Notification.objects(__raw__={**query, "_id": window}).order_by("-id")
                      .limit(wanted))  # fmt: skip
        high, moment, span = ObjectId.from_datetime(low), low, span * 2
    more = len(found) > per_page
    found = found[:per_page]
    return found, (str(found[-1].id) if more else None)


def get_notification(actor, notification_id):
    """One of `actor`'s notifications; anyone else's answers like a missing one (404)."""
    oid = object_id(notification_id)
    found = Notification.objects(id=oid).first() if oid else None
    if found is None or not policy.can(actor, "notification.view", found):
        raise NotFound(NOT_FOUND)
    return found


def mark_read(actor, notification_id):
    notification = get_notification(actor, notification_id)
    if notification.read_at is None:
        now = utcnow()
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # what MongoDB keeps
        if Notification.objects(id=notification.id, read_at=None).update_one(set__read_at=now):
            _move_unread({actor.id: -1})
        notification.read_at = now
    return notification


def mark_all_read(actor):
    """Every unread notification of `actor` is read; returns how many were."""
    policy.require(actor, "notification.list")
    marked = Notification.objects(user=actor.id, read_at=None).update(set__read_at=utcnow())
    _move_unread({actor.id: -marked})
    return marked


def dossier_names(actor, notifications):
    """{dossier id: display name} for the dossiers of `notifications` that `actor` may see
    now: a notice never shows more than the dossier itself would."""
    from app.dossiers.models import Dossier

    ids = {n.dossier for n in notifications if n.dossier}
    if not ids:
        return {}
    found = Dossier.objects(id__in=list(ids)).exclude("search_keys", "contacts")
    return {d.id: d.identity.display_name for d in found if policy.can(actor, "dossier.view", d)}


# --- preferences ---------------------------------------------------------------------------


def preferences_of(user_ids):
    """{user id: NotificationPreference} for every id, the defaults where none is saved."""
    saved = {p.user: p for p in NotificationPreference.objects(user__in=list(user_ids))}
    return {uid: saved.get(uid) or NotificationPreference(user=uid) for uid in user_ids}


def get_preferences(actor, user=None):
    user = user or actor
    policy.require(actor, "notification.preferences", user)
    return preferences_of([user.id])[user.id]


def preferences_json(preference):
    return {
        "email": not preference.email_off,
        "kinds": {kind: preference.channels.get(kind) or KINDS[kind].default for kind in KINDS},
    }


def update_preferences(actor, data, user=None):
    """Set the channels given (the others keep theirs) and the e-mail switch; stopping
    e-mails also cancels those still queued for the user."""
    user = user or actor
    policy.require(actor, "notification.preferences", user)
    data = check(PREFERENCES, data)
    change = {"updated_at": utcnow()}
    for kind, channel in data.get("kinds", {}).items():
        change[f"channels.{kind}"] = channel
    if "email" in data:
        change["email_off"] = not data["email"]
    NotificationPreference._get_collection().update_one(
        {"_id": user.id}, {"$set": change}, upsert=True
    )
    if data.get("email") is False:
        _cancel_queued(user)
    audit.record(actor, "notification.preferences", user, **data)
    return preferences_of([user.id])[user.id]


def stop_emails(actor):
    """Stop every e-mail ("ne plus rien recevoir par e-mail"), in one click."""
    return update_preferences(actor, {"email": False})


def _cancel_queued(user):
    OutgoingMail.objects(user=user.id, status="pending").update(
        set__status="cancelled", set__last_error="Envois d'e-mails arrêtés par la personne."
    )
    Notification.objects(user=user.id, mail="digest").update(set__mail="skipped")


def account_of_link(token):
    """The account a signed unsubscribe link names; NotFound for a forged or altered one."""
    from app.accounts.models import User

    user_id = mail.user_id_of(token)
    user = User.objects(id=object_id(user_id)).first() if user_id else None
    if user is None:
        raise NotFound("Ce lien de désabonnement n'est pas valide.")
    return user


def unsubscribe(token):
    """Stop every e-mail of the account a signed link names, without signing in: the
    signature (SECRET_KEY) is what proves the link was sent to that address, and it names
    that one account. Returns the account."""
    user = account_of_link(token)
    NotificationPreference._get_collection().update_one(
        {"_id": user.id}, {"$set": {"email_off": True, "updated_at": utcnow()}}, upsert=True
    )
    _cancel_queued(user)
    audit.record(user, "notification.unsubscribe", user)
    return user


# --- the platform admins' view of the queue ---------------------------------------------------


def failed_mails(actor, limit=200):
    policy.require(actor, "mail.manage")
    found = OutgoingMail.objects(status="failed").exclude("text", "html")
    return sorted(found.limit(limit), key=lambda m: m.failed_at or m.created_at, reverse=True)


def retry_mail(actor, mail_id):
    """Queue a failed e-mail again, from its first try (once the cause is fixed)."""
    policy.require(actor, "mail.manage")
    oid = object_id(mail_id)
    moved = OutgoingMail.objects(id=oid, status="failed").update_one(
        set__status="pending", set__attempts=0, set__next_attempt_at=utcnow(),
        unset__failed_at=True,
    )  # fmt: skip
    if not moved:
        raise NotFound("Cet e-mail n'existe pas ou n'est pas en échec.")
    audit.record(actor, "mail.retry", object_type="OutgoingMail", object_id=str(oid))
