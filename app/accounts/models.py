import hashlib
import secrets

from flask_login import UserMixin
from mongoengine import (
    BooleanField,
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
from app.reference import PROFESSIONS, STRUCTURE_ROLES, USER_STATUSES, profession_label
from app.text import fold, tokens


def new_nonce():
    return secrets.token_urlsafe(16)


def session_key(session_id):
    """What the account keeps of one of its sessions: the SHA-256 of the id its cookie holds."""
    return hashlib.sha256(session_id.encode()).hexdigest()


class OpenSession(EmbeddedDocument):
    """A session signed in on the account (app/accounts/sessions.py)."""

    key = StringField(required=True)  # session_key() of the session's id
    opened_at = DateTimeField(default=utcnow)


class Membership(EmbeddedDocument):
    """The roles a user holds in one structure (the structure's id, not a dereferenced link)."""

    structure = ObjectIdField(required=True)
    roles = ListField(StringField(choices=list(STRUCTURE_ROLES)))


class User(UserMixin, Document):
    """An account: one individual e-mail, one person."""

    email = StringField(required=True, unique=True, max_length=254)
    name = StringField(required=True, max_length=200)
    profession = StringField(choices=list(PROFESSIONS))
    phone = StringField(max_length=30)
    password_hash = StringField()
    platform_admin = BooleanField(default=False)
    status = StringField(choices=list(USER_STATUSES), default="active")
    memberships = EmbeddedDocumentListField(Membership)
    # Part of the session id: changing it (password change, suspension) ends every session.
    session_nonce = StringField(default=new_nonce)
    # The sessions open on the account, the latest last (at most MAX_SESSIONS): a session
    # whose key is gone (signed out) has ended, every copy of its cookie with it.
    sessions = EmbeddedDocumentListField(OpenSession)
    last_login_at = DateTimeField()
    # The second factor (app/accounts/totp.py): the authenticator's secret, the time step of
    # the last code used (a code works once), the recovery codes' SHA-256.
    totp_secret = StringField()
    totp_step = IntField()
    totp_enabled_at = DateTimeField()
    recovery_codes = ListField(StringField())
    terms_version = IntField(default=0)  # the CGU version accepted last (app/terms)
    guide_seen_at = DateTimeField()  # the first-connection guide, opened or dismissed
    # Folded tokens of the name and e-mail, kept by clean(): what the user search looks in.
    search_keys = ListField(StringField())
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "users",
        "indexes": ["memberships.structure", "name", "status", "search_keys"],
        # `failed_logins` and `locked_until`, kept before failures counted per address
        # (LoginThrottle), are ignored.
        "strict": False,
    }

    def clean(self):
        self.search_keys = tokens(self.name, self.email) + [fold(self.email)]

    def __repr__(self):
        return f"<User {self.email}>"

    def get_id(self):
        return f"{self.id}:{self.session_nonce}"

    @property
    def is_active(self):
        return self.status == "active"

    @property
    def profession_label(self):
        return profession_label(self.profession)

    @property
    def status_label(self):
        return USER_STATUSES.get(self.status, self.status)

    def end_sessions(self, keep=None):
        """End every session of the account but `keep` (a session id, or None): a new nonce,
        which their cookies no longer carry, and no other session open. Not saved."""
        self.session_nonce = new_nonce()
        kept = session_key(keep) if keep else None
        self.sessions = [s for s in self.sessions if s.key == kept]

    def roles_in(self, structure_id):
        for membership in self.memberships:
            if membership.structure == structure_id:
                return set(membership.roles)
        return set()


class ApiToken(Document):
    """A personal API token; only its SHA-256 is stored, the token is shown once."""

    user = ObjectIdField(required=True)
    name = StringField(required=True, max_length=100)
    token_hash = StringField(required=True, unique=True)
    prefix = StringField(required=True)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField()
    revoked_at = DateTimeField()

    meta = {"collection": "api_tokens", "indexes": [("user", "-created_at")]}

    def __repr__(self):
        return f"<ApiToken {self.prefix}… of {self.user}>"

    @property
    def active(self):
        return self.revoked_at is None


class LoginThrottle(Document):
    """The failed passwords of one account from one client address (app/accounts/lockout.py)."""

    id = StringField(primary_key=True)  # "<user id>:<keyed digest of the address>"
    user = ObjectIdField(required=True)
    failures = IntField(default=0)
    locked_until = DateTimeField()
    expires_at = DateTimeField(required=True)  # forgotten then; a TTL index deletes it later

    meta = {
        "collection": "login_throttles",
        "indexes": ["user", {"fields": ["expires_at"], "expireAfterSeconds": 0}],
    }

    def __repr__(self):
        return f"<LoginThrottle {self.id}: {self.failures}>"
