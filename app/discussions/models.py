"""Discussions, their messages, and who takes part in each (with read state and unread count).

A message's number (`seq`) is taken from its discussion with one $inc, so that pages walk the
(discussion, seq) index and "new since n" is one range query. Unread counts live on the
participation (one per user and discussion) and, summed, beside the bell (UnreadCount)."""

from mongoengine import (
    DateTimeField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentListField,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
)

from app.clock import utcnow

MAX_BODY = 20_000
KINDS = {"dossier": "Discussion du dossier", "conversation": "Conversation"}


class Discussion(Document):
    kind = StringField(required=True, choices=list(KINDS))
    dossier = ObjectIdField()  # the dossier of a dossier thread (one per dossier)
    title = StringField(max_length=200)  # a group conversation's subject
    participants = ListField(ObjectIdField())  # a conversation's members (a thread: the circle)
    created_by = ObjectIdField()
    created_at = DateTimeField(default=utcnow)
    last_seq = IntField(default=0)  # the number of its last message
    last_message_at = DateTimeField()

    meta = {
        "collection": "discussions",
        "indexes": [
            {"fields": ["dossier"], "unique": True, "sparse": True},
            ("participants", "kind"),  # an existing 1:1 conversation
        ],
    }

    def __repr__(self):
        return f"<Discussion {self.kind} {self.id}>"


class Attachment(EmbeddedDocument):
    """A file of a message: in a dossier thread, one of the dossier's documents (`entry`);
    in a conversation, a file of its own in GridFS (`file`)."""

    entry = ObjectIdField()
    file = ObjectIdField()
    filename = StringField(required=True)
    content_type = StringField()
    size = IntField()


class Message(Document):
    discussion = ObjectIdField(required=True)
    seq = IntField(required=True)
    author = ObjectIdField(required=True)
    author_name = StringField(required=True)
    body = StringField(max_length=MAX_BODY)
    attachments = EmbeddedDocumentListField(Attachment)
    created_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "messages",
        "indexes": [{"fields": ["discussion", "seq"], "unique": True}],
    }


class Participation(Document):
    """One user in one discussion: how many of its messages they have not read, up to which
    they have read; what their list of discussions is sorted and titled by."""

    discussion = ObjectIdField(required=True)
    user = ObjectIdField(required=True)
    kind = StringField(required=True, choices=list(KINDS))
    dossier = ObjectIdField()
    unread = IntField(default=0)
    read_seq = IntField(default=0)
    last_message_at = DateTimeField()
    joined_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "discussion_participants",
        "indexes": [
            {"fields": ["discussion", "user"], "unique": True},
            ("user", "-last_message_at"),  # my discussions, the latest first
        ],
    }
