"""Discussions: open a dossier's thread or a conversation, post (immutable) messages with
attachments, read them (which marks them read), list mine with their unread counts.

Posting costs a fixed number of round trips whatever the thread's size: the message's number
from the discussion ($inc), the message, the participations (one bulk write), the unread
counters (one bulk write), the notices of those who had nothing unread, the audit event.
"""

import contextlib
import itertools
from datetime import timedelta

from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from app import audit, db, policy, signals
from app.accounts.models import User
from app.clock import utcnow
from app.discussions.models import MAX_BODY, Attachment, Discussion, Message, Participation
from app.dossiers import documents, entries
from app.dossiers import services as dossiers
from app.dossiers.listing import EPOCH, LIST_FIELDS
from app.dossiers.models import Dossier
from app.errors import NotFound
from app.notifications import services as notifications
from app.validation import InvalidInput

NOT_FOUND = "Cette discussion n'existe pas ou vous n'y avez pas accès."
PER_PAGE = 30
MAX_FILES = 5
MAX_PARTICIPANTS = 50
MAX_TITLE = 200
EMPTY = "Le message est vide : écrivez quelque chose ou joignez un fichier."
TOO_LONG = f"Le message dépasse {MAX_BODY:,} caractères.".replace(",", " ")
RESTRICTED = "Document réservé aux professionnels habilités"

# "Mes discussions": how far back the windows of activity go (see _latest_participations). A
# coordinator may follow 1,500 threads that all moved this month: the first windows are short.
RECENT = (timedelta(hours=1), timedelta(days=1), timedelta(days=7), timedelta(days=30),
          timedelta(days=365))  # fmt: skip
LIGHT = {"_id": 1, "last_message_at": 1}


# --- finding a discussion ----------------------------------------------------------------------


def dossier_thread(actor, dossier, action="discussion.view"):
    """The dossier's thread (made on first use), if `actor` may do `action` in it."""
    policy.require(actor, "dossier.view", dossier)
    policy.require(actor, action, (Discussion(kind="dossier", dossier=dossier.id), dossier))
    collection = Discussion._get_collection()
    found = collection.find_one({"dossier": dossier.id})
    if found is None:
        thread = {"kind": "dossier", "dossier": dossier.id, "created_at": utcnow(),
                  "last_seq": 0, "participants": []}  # fmt: skip
        with contextlib.suppress(DuplicateKeyError):  # opened by someone else meanwhile
            collection.insert_one(thread)
        found = collection.find_one({"dossier": dossier.id})
    return Discussion._from_son(found)


def get_discussion(actor, discussion_id, action="discussion.view"):
    """(discussion, its dossier or None): 404 for one `actor` may not see, like a missing one."""
    oid = dossiers.object_id(discussion_id)
    discussion = Discussion.objects(id=oid).first() if oid else None
    dossier = None
    if discussion is not None and discussion.kind == "dossier":
        dossier = Dossier.objects(id=discussion.dossier).first()
    if discussion is None or not policy.can(actor, "discussion.view", (discussion, dossier)):
        raise NotFound(NOT_FOUND)
    policy.require(actor, action, (discussion, dossier))
    return discussion, dossier


def start_conversation(actor, people, title=""):
    """A conversation between `actor` and `people` (user ids): an existing 1:1 with the same
    person is reused; a group has an optional title."""
    policy.require(actor, "conversation.create")
    ids = list(dict.fromkeys(dossiers.object_id(p) for p in people))
    if None in ids or not ids:
        raise InvalidInput({"/participants": "Choisissez au moins un professionnel."})
    if len(ids) > MAX_PARTICIPANTS:
        raise InvalidInput({"/participants": f"Au plus {MAX_PARTICIPANTS} participants."})
    found = {
        i for i, status in User.objects(id__in=ids).scalar("id", "status") if status == "active"
    }
    if missing := [str(i) for i in ids if i not in found]:
        raise InvalidInput(
            {"/participants": f"Comptes inconnus ou inactifs : {', '.join(missing)}."}
        )
    title = (title or "").strip()
    if len(title) > MAX_TITLE:
        raise InvalidInput({"/title": f"Le sujet dépasse {MAX_TITLE} caractères."})
    members = list(dict.fromkeys([actor.id, *ids]))
    if len(members) < 2:
        raise InvalidInput({"/participants": "Choisissez quelqu'un d'autre que vous."})
    if len(members) == 2 and not title:
        existing = Discussion.objects(
            participants__all=members, participants__size=2, kind="conversation", title=None
        ).first()
        if existing:
            return existing
    discussion = open_conversation(members, title, actor.id)
    audit.record(actor, "conversation.create", discussion, participants=len(members))
    return discussion


def open_conversation(members, title, created_by=None):
    """A new conversation between `members` (user ids), without checks: for the services
    that chose them (start_conversation; a plugin filing a mail for a structure's team)."""
    discussion = Discussion(
        kind="conversation", title=title or None, participants=members, created_by=created_by
    ).save()
    Participation.objects.insert(
        [
            # Dated at creation: a new conversation comes first in "Mes discussions".
            Participation(
                discussion=discussion.id,
                user=m,
                kind="conversation",
                last_message_at=discussion.created_at,
            )
            for m in members
        ]  # fmt: skip
    )
    return discussion


# --- posting -----------------------------------------------------------------------------------


def _checked_body(body, has_files):
    body = (body or "").strip()
    if len(body) > MAX_BODY:
        raise InvalidInput({"/body": TOO_LONG}, TOO_LONG)
    if not body and not has_files:
        raise InvalidInput({"/body": EMPTY}, EMPTY)
    return body


def _checked_files(files):
    """Each (content, filename) inspected before anything is written: one bad file refuses
    the message whole."""
    if len(files) > MAX_FILES:
        raise InvalidInput({"/files": f"Au plus {MAX_FILES} fichiers par message."})
    return [
        documents.inspect(content, name, pointer=f"/files/{n}")
        for n, (content, name) in enumerate(files)
    ]


def post(actor, discussion, dossier, body, files=(), category="administratif", cited=(),
         documents_only=True):  # fmt: skip
    """Post a message: `files` are uploads ((content, filename) pairs); in a dossier thread
    they become documents of the dossier (of `category`, shared); `cited` are ids of the
    dossier's documents attached as they are (of any of its entries unless
    `documents_only`: what an MSSanté mail carried, notes and forms as PDF)."""
    policy.require(actor, "discussion.post", (discussion, dossier))
    uploads = _checked_files(list(files))
    linked = _linked_entries(actor, dossier, cited, documents_only)
    body = _checked_body(body, bool(uploads or linked))
    attachments = linked + [_store(actor, discussion, dossier, u, category) for u in uploads]
    now = utcnow()
    seq = db.increment(
        Discussion._get_collection(), discussion.id, "last_seq", also={"last_message_at": now}
    )
    message = Message(
        discussion=discussion.id, seq=seq, author=actor.id,
        author_name=actor.name, body=body or None, attachments=attachments, created_at=now,
    ).save(force_insert=True)  # fmt: skip
    _deliver(actor, discussion, dossier, message)
    audit.record(
        actor, "message.post", message, dossier=str(dossier.id) if dossier else None,
        discussion=str(discussion.id), attachments=len(attachments),
    )  # fmt: skip
    return message


def _linked_entries(actor, dossier, ids, documents_only):
    if not ids:
        return []
    if dossier is None:
        raise InvalidInput({"/documents": "Seule une discussion de dossier cite ses documents."})
    found = entries.attachable(actor, dossier, ids, "/documents", documents_only=documents_only)
    return [
        Attachment(entry=entry.id, filename=entries.file_name(entry),
                   content_type=entry.content_type, size=entry.size)
        for entry in found
    ]  # fmt: skip


def _store(actor, discussion, dossier, upload, category):
    if dossier is not None:
        entry = entries.add_document(
            actor, dossier, upload,
            {"category": category, "visibility": "shared", "title": upload.filename},
        )  # fmt: skip
        return Attachment(entry=entry.id, filename=upload.filename,
                          content_type=upload.content_type, size=upload.size)  # fmt: skip
    file_id = documents.store(upload, {"discussion": str(discussion.id)})
    return Attachment(file=file_id, filename=upload.filename,
                      content_type=upload.content_type, size=upload.size)  # fmt: skip


def _recipients(actor, discussion, dossier):
    """Who hears of a new message: a conversation's participants; in a dossier's thread, the
    active circle's accounts and those who took part already, as long as they see the
    dossier. Never the author."""
    if dossier is None:
        ids = set(discussion.participants)
    else:
        ids = set(dossier.member_users) | set(
            Participation.objects(discussion=discussion.id).scalar("user")
        )
    ids.discard(actor.id)
    people = [u for u in User.objects(id__in=list(ids)) if u.status == "active"] if ids else []
    return [
        person for person in people if policy.can(person, "discussion.view", (discussion, dossier))
    ]


def _deliver(actor, discussion, dossier, message):
    """Count the message unread for each recipient, mark it read for its author, and tell
    those who had nothing unread in this discussion (one notice until they come and read)."""
    people = _recipients(actor, discussion, dossier)
    ids = [p.id for p in people]
    # By the (discussion, user) index alone: a field outside it would scan (README).
    unread = {
        user: count
        for user, count in Participation.objects(discussion=discussion.id).scalar("user", "unread")
        if count
    }
    mine = unread.pop(actor.id, 0)  # writing here, the author has read what came before
    external = isinstance(actor, policy.ExternalSender)  # no account: nothing of theirs to keep
    base = {"kind": discussion.kind, "dossier": discussion.dossier, "joined_at": message.created_at}
    base = {k: v for k, v in base.items() if v is not None}
    writes = [
        UpdateOne(
            {"discussion": discussion.id, "user": person},
            {"$inc": {"unread": 1}, "$set": {"last_message_at": message.created_at},
             "$setOnInsert": {**base, "read_seq": 0}},
            upsert=True,
        )
        for person in ids
    ]  # fmt: skip
    if not external:
        writes.append(
            UpdateOne(
                {"discussion": discussion.id, "user": actor.id},
                {"$set": {"last_message_at": message.created_at, "read_seq": message.seq},
                 "$inc": {"unread": -mine}, "$setOnInsert": base},
                upsert=True,
            )
        )  # fmt: skip
    if writes:
        Participation._get_collection().bulk_write(writes, ordered=False)
    notifications.move_unread_messages({**dict.fromkeys(ids, 1), actor.id: -mine})
    fresh = [p for p in people if p.id not in unread]
    if fresh:
        where = "un dossier que vous suivez" if dossier else "une conversation"
        notifications.notify(
            fresh,
            "message",
            f"Nouveau message de {actor.name} dans {where}",
            f"/messages/{discussion.id}",
            dossier=dossier,
        )


# --- reading -----------------------------------------------------------------------------------


def read(actor, discussion, dossier, before=None, after=None):
    """A page of messages, oldest first: the latest PER_PAGE, those before `before` (older
    pages) or those after `after` (what came since the page was shown). Reading marks the
    discussion read for `actor` (first, so that nothing posted meanwhile is lost).

    Messages are numbered without gaps: each page is a range of numbers on the index, never
    a sort of the whole thread."""
    policy.require(actor, "discussion.view", (discussion, dossier))
    last = mark_read(actor, discussion)
    if after is not None:
        low, high = after + 1, min(last, after + PER_PAGE * 4)
    elif before is not None:
        low, high = before - PER_PAGE, min(last, before - 1)
    else:
        low, high = last - PER_PAGE + 1, last
    if high < max(low, 1):
        return []
    found = Message.objects(discussion=discussion.id, seq__gte=max(low, 1), seq__lte=high)
    return list(found.order_by("seq"))


def mark_read(actor, discussion):
    """Everything in the discussion is read by `actor`: their unread count leaves their
    counter (compare-and-set on the count read, so a message arriving meanwhile still
    counts). Returns the number of the discussion's last message."""
    now_at = Discussion._get_collection().find_one({"_id": discussion.id}, {"last_seq": 1})
    last = (now_at or {}).get("last_seq", 0)
    collection = Participation._get_collection()
    key = {"discussion": discussion.id, "user": actor.id}
    for _ in range(20):
        row = collection.find_one(key, {"unread": 1, "read_seq": 1})
        if row is None:
            if discussion.kind != "dossier":
                return last
            base = {"kind": "dossier", "dossier": discussion.dossier, "joined_at": utcnow(),
                    "last_message_at": discussion.last_message_at or utcnow()}  # fmt: skip
            with contextlib.suppress(DuplicateKeyError):  # reading a dossier's thread follows it
                collection.insert_one({**key, **base, "unread": 0, "read_seq": last})
                return last
            continue
        unread, seen = row.get("unread", 0), row.get("read_seq", 0)
        if not unread and seen >= last:
            return last  # nothing new: a poll writes nothing
        marked = collection.update_one(
            {"_id": row["_id"], "unread": unread},
            {"$set": {"unread": 0, "read_seq": max(seen, last)}},
        )
        if marked.modified_count:
            notifications.move_unread_messages({actor.id: -unread})
            return last
    return last


def readers(discussion, message):
    """The names of the others who have read up to `message` (its read state)."""
    if message is None:
        return []
    rows = Participation.objects(discussion=discussion.id).scalar("user", "read_seq")
    ids = [user for user, seen in rows if (seen or 0) >= message.seq and user != message.author]
    return sorted(User.objects(id__in=ids).scalar("name")) if ids else []


def visible_documents(actor, dossier, messages):
    """The dossier documents attached to `messages` that `actor` may open (one query): a
    thread's reader sees the message, its document shows to those habilitated for it."""
    if dossier is None:  # a conversation cites no entry
        return set()
    return entries.openable(actor, [a.entry for m in messages for a in m.attachments], dossier)


def named(attachment, visible):
    """Whether a reader is told what `attachment` is (name, entry, size): a conversation's own
    file, or a dossier document among `visible` (see visible_documents). Any other shows as
    RESTRICTED: that a document is attached, nothing of it."""
    return attachment.entry is None or attachment.entry in visible


def _latest_participations(actor, limit):
    """The actor's `limit` participations of latest activity. The embedded database reads
    every match before it sorts (README, "Queries"): light rows are read for the last hour,
    then if need be the day, the week, the month, the year before, then the rest (and those
    never dated)."""
    now, rows, collection = utcnow(), [], Participation._get_collection()
    bounds = [now + timedelta(milliseconds=1), *(now - age for age in RECENT), EPOCH]
    for high, low in itertools.pairwise(bounds):
        window = {"$gte": low, "$lt": high}
        found = collection.find({"user": actor.id, "last_message_at": window}, LIGHT)
        rows += sorted(found, key=lambda row: row["last_message_at"], reverse=True)
        if len(rows) >= limit:
            break
    else:
        rows += collection.find({"user": actor.id, "last_message_at": None}, LIGHT)
    ids = [row["_id"] for row in rows[:limit]]
    loaded = {p.id: p for p in Participation.objects(id__in=ids)}
    return [loaded[i] for i in ids if i in loaded]


def mine(actor, limit=50):
    """My discussions, the latest active first: (participation, discussion, its dossier or None,
    its other participants' names), only those I may still see."""
    rows = _latest_participations(actor, limit)
    found = {d.id: d for d in Discussion.objects(id__in=[r.discussion for r in rows])}
    listed = Dossier.objects(id__in=[r.dossier for r in rows if r.dossier]).only(*LIST_FIELDS)
    dossier_of = {d.id: d for d in listed}
    people = {p for d in found.values() for p in d.participants if p != actor.id}
    names = dict(User.objects(id__in=list(people)).scalar("id", "name")) if people else {}
    result = []
    for row in rows:
        discussion = found.get(row.discussion)
        dossier = dossier_of.get(row.dossier)
        if discussion and policy.can(actor, "discussion.view", (discussion, dossier)):
            others = [names[p] for p in discussion.participants if p in names]
            result.append((row, discussion, dossier, others))
    return result


def open_attachment(actor, discussion_id, file_id):
    """A conversation's attached file, for one of its participants; audited."""
    discussion, _ = get_discussion(actor, discussion_id)
    oid = dossiers.object_id(file_id)
    message = (
        Message.objects(discussion=discussion.id, attachments__file=oid).first() if oid else None
    )
    if message is None:
        raise NotFound("Ce fichier n'existe pas.")
    attachment = next(a for a in message.attachments if a.file == oid)
    audit.record(actor, "message.download", message, discussion=str(discussion.id))
    return attachment, documents.open_file(oid)


# --- when the circle changes -------------------------------------------------------------------


@signals.member_removed.connect
@signals.consent_withdrawn.connect
def _clear_unread_of_those_who_left(actor, dossier, **extra):
    """Someone left the circle, was refused, or lost access with the consent: the unread
    messages of a thread they can no longer open leave their counters (they could never
    clear them). One write per person gone, usually one."""
    discussion = Discussion.objects(dossier=dossier.id).first()
    rows = (
        [r for r in Participation.objects(discussion=discussion.id) if r.unread]
        if discussion
        else []
    )
    if not rows:
        return
    people = {u.id: u for u in User.objects(id__in=[r.user for r in rows])}
    changes = {}
    for row in rows:
        person = people.get(row.user)
        if person is not None and policy.can(person, "discussion.view", (discussion, dossier)):
            continue
        cleared = Participation.objects(id=row.id, unread=row.unread).update_one(set__unread=0)
        if cleared:  # (a message arriving meanwhile leaves it for the next change)
            changes[row.user] = -row.unread
    notifications.move_unread_messages(changes)
