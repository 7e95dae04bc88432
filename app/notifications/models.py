"""Notifications, preferences, unread counters and the outgoing e-mail queue.

The embedded database reads every document a query matches before it sorts or limits
(DESIGN.md §7): the unread count of the bell is a counter kept beside the notifications, not
a count of them, and lists walk bounded windows of `_id` (see services.page).
"""

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    IntField,
    ObjectIdField,
    StringField,
)

from app.clock import utcnow
from app.notifications.kinds import KINDS

# What became of a notice's e-mail: None, in the app only; "queued": an e-mail of its own;
# "digest": waits for the daily digest; "digested": in one; "skipped": read before, or the
# user stopped e-mails meanwhile.
MAIL_STATES = ["queued", "digest", "digested", "skipped"]


class Notification(Document):
    """Something one user is told. Its text names no patient and holds no form or message
    content: pages join the dossier's name when the reader may see it (services.page)."""

    user = ObjectIdField(required=True)
    kind = StringField(required=True, choices=list(KINDS))
    text = StringField(required=True, max_length=300)
    url = StringField(required=True)  # a path of the platform: the task, the dossier…
    dossier = ObjectIdField()
    task = ObjectIdField()
    mail = StringField(choices=MAIL_STATES)
    read_at = DateTimeField()
    created_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "notifications",
        "indexes": [
            ("user", "read_at", "-_id"),  # my unread, newest first
            ("user", "-_id"),  # all of mine, newest first
            ("mail", "user"),  # the digests to send
            "read_at",  # the old read notices to forget (worker.forget_old)
        ],
    }

    def __repr__(self):
        return f"<Notification {self.kind} for {self.user}>"

    @property
    def kind_label(self):
        return KINDS[self.kind].label

    @property
    def is_read(self):
        return self.read_at is not None


class UnreadCount(Document):
    """The navigation's numbers for one user, read by key once per page: unread
    notifications (the bell) and messages, each moved with $inc by exactly the number of
    items created or marked; and the inbox's task counts, cached with the time they were
    counted (recounted when older than a minute, or forgotten when a task of theirs moved)."""

    user = ObjectIdField(primary_key=True)
    count = IntField(default=0)  # unread notifications
    messages = IntField(default=0)  # unread messages in the discussions one takes part in
    tasks = DictField()  # {"mine": n, "available": n, "followed_overdue": n}
    tasks_at = DateTimeField()

    meta = {"collection": "notification_unread"}


class NotificationRate(Document):
    """How many notices of one kind one user was given in one clock hour: past
    NOTIFY_MAX_PER_HOUR, the next ones are folded into one notice (`folded`) that counts
    them, and no e-mail goes. Keyed "<user>:<kind>:<YYYYMMDDHH>" so that one read by key
    gives it; the worker forgets those of past hours."""

    id = StringField(primary_key=True)
    hour = DateTimeField(required=True)
    count = IntField(default=0)
    folded = ObjectIdField()  # the notice that stands for those past the cap

    meta = {"collection": "notification_rates", "indexes": ["hour"]}


class NotificationPreference(Document):
    """A user's choices: a channel per kind (absent: the kind's default), and the switch that
    stops every e-mail at once. Absent document: every default."""

    user = ObjectIdField(primary_key=True)
    channels = DictField()
    email_off = BooleanField(default=False)
    last_digest = StringField()  # the day ("YYYY-MM-DD", France) of the last digest sent
    updated_at = DateTimeField(default=utcnow)

    meta = {"collection": "notification_preferences"}

    def channel(self, kind):
        """The channel this user gets `kind` on, the e-mail switch applied."""
        chosen = self.channels.get(kind) or KINDS[kind].default
        if self.email_off and chosen in ("immediate", "digest"):
            return "app"
        return chosen


class OutgoingMail(Document):
    """An e-mail waiting to go, going, sent or given up: the delivery queue.

    `key` makes enqueuing idempotent (one e-mail per notice, one digest per user and day).
    A worker holds a mail with a lease while it sends it; a failed attempt sets the next one
    later and later; after the last one the mail is `failed`, for the platform admins."""

    key = StringField(required=True, unique=True)
    user = ObjectIdField()
    to = StringField(required=True)
    subject = StringField(required=True)
    text = StringField()
    html = StringField()
    message_id = StringField(required=True)  # kept across retries: a resend is recognisable
    unsubscribe = StringField()  # the signed link of the List-Unsubscribe header
    task = ObjectIdField()  # a notice about a task: not sent once the task is closed
    status = StringField(
        choices=["pending", "sent", "failed", "cancelled", "dropped"], default="pending"
    )
    attempts = IntField(default=0)
    next_attempt_at = DateTimeField()
    last_error = StringField()
    lease_owner = StringField()
    lease_until = DateTimeField()
    created_at = DateTimeField(default=utcnow)
    sent_at = DateTimeField()
    failed_at = DateTimeField()

    meta = {
        "collection": "outgoing_mails",
        "indexes": [("status", "next_attempt_at"), ("user", "status"), ("status", "created_at")],
    }

    def __repr__(self):
        return f"<OutgoingMail {self.key} {self.status}>"
