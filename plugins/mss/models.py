"""What the MSSanté plugin stores: each structure's mailbox settings, the mails sent and
received, and where each mailbox's reading stands."""

from mongoengine import (
    DateTimeField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentListField,
    IntField,
    ObjectIdField,
    StringField,
)

from app.clock import utcnow

MAX_SUBJECT = 200


class MssSettings(Document):
    """A structure's organisational MSSanté mailbox (BAL) at its operator. The password
    and the private key are stored encrypted (plugins/mss/secrets.py)."""

    structure = ObjectIdField(required=True, unique=True)
    address = StringField(required=True, max_length=254)
    smtp_host = StringField(required=True, max_length=253)
    smtp_port = IntField(default=587)
    imap_host = StringField(required=True, max_length=253)
    imap_port = IntField(default=143)
    login = StringField(required=True, max_length=254)
    password = StringField()  # encrypted
    certificate = StringField()  # the client certificate (PEM), public
    private_key = StringField()  # encrypted PEM
    ca = StringField()  # PEM of the operator's authority, when not a public one
    updated_by = ObjectIdField()
    updated_at = DateTimeField(default=utcnow)

    meta = {"collection": "mss_settings"}


class MssAttachment(EmbeddedDocument):
    entry = ObjectIdField()  # the dossier's entry (a document, or a form sent as PDF)
    filename = StringField()
    kind = StringField(choices=["document", "pdf"])


class MssMail(Document):
    """One mail: sent (queued, then sent or failed) or received (filed)."""

    direction = StringField(required=True, choices=["out", "in"])
    structure = ObjectIdField(required=True)
    dossier = ObjectIdField()
    discussion = ObjectIdField()  # where it shows: the dossier's thread or a conversation
    sender = ObjectIdField()  # the account that sent it (out)
    sender_name = StringField()
    address = StringField(max_length=254)  # the other side: recipient (out) or sender (in)
    subject = StringField(max_length=MAX_SUBJECT)
    body = StringField()
    attachments = EmbeddedDocumentListField(MssAttachment)
    message_id = StringField()
    status = StringField(default="pending")  # out: pending/sent/failed; in: claimed/filed
    attempts = IntField(default=0)
    next_attempt_at = DateTimeField()
    last_error = StringField()
    lease_owner = StringField()
    lease_until = DateTimeField()
    uid = StringField()  # in: "<uidvalidity>:<uid>" of the mailbox it came from
    note = StringField()  # in: what could not be filed (too big, unreadable, refused files)
    created_at = DateTimeField(default=utcnow)
    done_at = DateTimeField()

    meta = {
        "collection": "mss_mails",
        "indexes": [
            # The send queue, one query per status (app/db.lease_one).
            ("status", "next_attempt_at"),
            # A reply finds the mail it answers ($in on the first field only: README, Queries).
            "message_id",
            # The exchanges of a structure with one address.
            ("structure", "address"),
            # The structure's log, newest first, read in bounded windows of time.
            ("structure", "created_at"),
        ],
    }


class MssClaim(Document):
    """Each received mail is filed once: the first worker to insert its key files it."""

    id = StringField(primary_key=True)  # "<structure>:<uidvalidity>:<uid>"
    mail = ObjectIdField()
    at = DateTimeField(default=utcnow)

    meta = {"collection": "mss_claims"}


class MssMailbox(Document):
    """Where the reading of a structure's mailbox stands: the last UID filed, in the
    mailbox's UIDVALIDITY (a new validity starts again, duplicates kept out by Message-ID)."""

    structure = ObjectIdField(primary_key=True)
    uidvalidity = StringField()
    last_uid = IntField(default=0)
    polled_at = DateTimeField()
    last_error = StringField()
