"""A dossier ("usager"), its circle of care, its entries and its timeline (DESIGN.md §2).

Dates of identity, consent and membership are kept as ISO "YYYY-MM-DD" strings: they are
calendar days, not instants, and equality on an index is what the duplicate check needs.
"""

import json

from bson import ObjectId
from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    EmbeddedDocumentListField,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
)

from app.clock import utcnow
from app.reference import (
    CARE_ROLES,
    CONSENT_MODES,
    DATA_CATEGORIES,
    DOSSIER_STATUSES,
    ENTRY_KINDS,
    IDENTITY_DOCUMENTS,
    IDENTITY_STATUSES,
    LIVING_SITUATIONS,
    SEXES,
    VISIBILITIES,
    profession_label,
)
from app.text import compact, fold, tokens


class Identity(EmbeddedDocument):
    birth_name = StringField(required=True, max_length=100)
    used_name = StringField(max_length=100)
    first_names = StringField(required=True, max_length=200)
    birth_date = StringField(required=True)
    sex = StringField(required=True, choices=list(SEXES))
    birth_place_code = StringField(max_length=5)
    ins = StringField(max_length=15)  # the INS matricule (NIR) with its 2-digit key
    # How far the identity was checked: the document shown, the INS checked through INSi, by
    # whom and when (`status` follows from them). A change of strict trait resets them.
    document = StringField(choices=list(IDENTITY_DOCUMENTS))
    ins_checked = BooleanField(default=False)
    checked_by = ObjectIdField()
    checked_at = DateTimeField()

    # A stored "status" (kept for a few commits before it became derived) is ignored.
    meta = {"strict": False}

    @property
    def display_name(self):
        """ "DUPONT Marie" or "MARTIN (née DUPONT) Marie": how professionals name a patient."""
        if self.used_name and fold(self.used_name) != fold(self.birth_name):
            return f"{self.used_name.upper()} (né·e {self.birth_name.upper()}) {self.first_names}"
        return f"{self.birth_name.upper()} {self.first_names}"

    @property
    def sex_label(self):
        return SEXES.get(self.sex, self.sex)

    @property
    def status(self):
        """The RNIV level: provisoire, validee, recuperee or qualifiee."""
        from app.dossiers.identity import verification_status

        return verification_status(self.document, self.ins_checked, self.ins)

    @property
    def status_label(self):
        return IDENTITY_STATUSES[self.status]

    @property
    def qualified(self):
        return self.status == "qualifiee"

    @property
    def fingerprint(self):
        from app.dossiers.identity import fingerprint

        return fingerprint(self)


class Contact(EmbeddedDocument):
    name = StringField(max_length=200)
    relation = StringField(max_length=100)
    phone = StringField(max_length=30)
    email = StringField(max_length=254)


class Consent(EmbeddedDocument):
    mode = StringField(required=True, choices=list(CONSENT_MODES))
    date = StringField(required=True)
    collected_by = StringField()  # user id
    collected_by_name = StringField()
    document = ObjectIdField()  # the Entry holding the scanned consent, if any
    withdrawn_on = StringField()
    withdrawal_reason = StringField(max_length=2000)
    withdrawn_by = StringField()
    withdrawn_by_name = StringField()

    @property
    def mode_label(self):
        return CONSENT_MODES.get(self.mode, self.mode)


class CareMember(EmbeddedDocument):
    """A member of the circle of care: an account, or a directory entry without one."""

    id = ObjectIdField(default=ObjectId)
    user = ObjectIdField()
    professional = ObjectIdField()
    name = StringField(required=True)
    profession = StringField()
    care_role = StringField(required=True, choices=list(CARE_ROLES))
    since = StringField()
    until = StringField()
    added_by = StringField()
    added_at = DateTimeField(default=utcnow)

    @property
    def care_role_label(self):
        return CARE_ROLES.get(self.care_role, self.care_role)

    @property
    def profession_label(self):
        return profession_label(self.profession)

    def active_on(self, day):
        return (not self.since or self.since <= day) and (not self.until or day <= self.until)


class Exclusion(EmbeddedDocument):
    """A professional the patient refuses: never in the circle again, no access at all."""

    user = ObjectIdField()
    professional = ObjectIdField()
    name = StringField(required=True)
    reason = StringField(max_length=2000)
    recorded_by = StringField()
    recorded_at = DateTimeField(default=utcnow)


class Dossier(Document):
    identity = EmbeddedDocumentField(Identity, required=True)
    contacts = EmbeddedDocumentListField(Contact)
    phone = StringField(max_length=30)
    email = StringField(max_length=254)
    address = StringField(max_length=300)
    postcode = StringField(max_length=10)
    city = StringField(max_length=100)
    living_situation = StringField(choices=list(LIVING_SITUATIONS))
    living_notes = StringField(max_length=2000)
    status = StringField(choices=list(DOSSIER_STATUSES), default="active")
    structure = ObjectIdField(required=True)  # the coordinating structure
    referent = ObjectIdField()  # a user
    consent = EmbeddedDocumentField(Consent, required=True)
    members = EmbeddedDocumentListField(CareMember)
    exclusions = EmbeddedDocumentListField(Exclusion)
    # Denormalised for the indexes: the accounts in the circle ("Mes dossiers"), the folded
    # name tokens (a name filter of "Mes dossiers"), the whole birth name compacted (the
    # identity search, with the birth date), a sort key.
    member_users = ListField(ObjectIdField())
    search_keys = ListField(StringField())
    birth_key = StringField()  # app.text.compact(identity.birth_name)
    sort_name = StringField()
    timeline_seq = IntField(default=0)  # the number of the last timeline item
    created_by = StringField()
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "dossiers",
        # name_pairs, the prefix pairs an older identity search read, is ignored until
        # `parcours install` removes it (listing.reindex).
        "strict": False,
        # "Mes dossiers" pages through windows of each sort key, per scope (listing.py). The
        # identity search is one equality on (birth_key, birth date), or on the INS.
        "indexes": [
            "identity.birth_date",
            ("birth_key", "identity.birth_date"),
            "identity.ins",
            "search_keys",
            "exclusions.user",  # the dossiers that refused someone (their inbox leaves them out)
            "exclusions.professional",
            ("member_users", "updated_at"),
            ("member_users", "created_at"),
            ("member_users", "sort_name"),
            ("structure", "updated_at"),
            ("structure", "created_at"),
            ("structure", "sort_name"),
        ],
    }

    def clean(self):
        identity = self.identity
        self.search_keys = tokens(identity.birth_name, identity.used_name, identity.first_names)
        self.birth_key = compact(identity.birth_name)
        self.sort_name = fold(f"{identity.used_name or identity.birth_name} {identity.first_names}")
        self.member_users = list(dict.fromkeys(m.user for m in self.members if m.user))

    def __repr__(self):
        return f"<Dossier {self.id} {self.identity.birth_name}>"

    @property
    def consent_active(self):
        return self.status == "active"

    @property
    def status_label(self):
        return DOSSIER_STATUSES.get(self.status, self.status)

    @property
    def living_situation_label(self):
        return LIVING_SITUATIONS.get(self.living_situation, "")

    def member_for(self, user_id):
        return next((m for m in self.members if m.user == user_id), None)

    def excludes(self, user_id=None, professional_id=None):
        return any(
            (user_id is not None and e.user == user_id)
            or (professional_id is not None and e.professional == professional_id)
            for e in self.exclusions
        )


class JoinRequest(Document):
    """A professional asks to join a dossier's circle of care; its coordinators decide."""

    dossier = ObjectIdField(required=True)
    user = ObjectIdField(required=True)
    user_name = StringField()
    care_role = StringField(required=True, choices=list(CARE_ROLES))
    message = StringField(max_length=2000)
    status = StringField(choices=["pending", "accepted", "refused"], default="pending")
    decided_by = StringField()
    decided_at = DateTimeField()
    reason = StringField(max_length=2000)
    created_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "join_requests",
        "indexes": [("dossier", "status"), ("user", "status")],
    }


class Entry(Document):
    """Something added to a dossier: a form submission, a note or a document."""

    dossier = ObjectIdField(required=True)
    kind = StringField(required=True, choices=list(ENTRY_KINDS))
    category = StringField(required=True, choices=list(DATA_CATEGORIES))
    visibility = StringField(required=True, choices=list(VISIBILITIES))
    title = StringField(max_length=200)
    text = StringField()  # a note's text, a document's description
    form = StringField()  # key of the form, for a submission
    form_version = IntField()
    # The submission as JSON text: form field names may hold what MongoDB keys may not.
    data_json = StringField()
    file = ObjectIdField()  # GridFS id, for a document
    filename = StringField()
    content_type = StringField()
    size = IntField()
    sha256 = StringField()
    author = ObjectIdField(required=True)
    author_name = StringField()
    author_profession = StringField()
    author_structure = StringField()
    version = IntField(default=1)
    timeline_seq = IntField()
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    updated_by = StringField()
    deleted_at = DateTimeField()
    deleted_by = StringField()
    deletion_reason = StringField(max_length=2000)

    meta = {"collection": "entries", "indexes": [("dossier", "created_at"), "file"]}

    def __repr__(self):
        return f"<Entry {self.kind} {self.id}>"

    @property
    def data(self):
        return json.loads(self.data_json) if self.data_json else None

    @property
    def deleted(self):
        return self.deleted_at is not None

    @property
    def is_image(self):
        return (self.content_type or "").startswith("image/")


class EntryVersion(Document):
    """What an entry was before an edit: every earlier state is kept."""

    entry = ObjectIdField(required=True)
    version = IntField(required=True)
    title = StringField()
    text = StringField()
    data_json = StringField()
    category = StringField()
    visibility = StringField()
    form_version = IntField()
    edited_by = StringField()  # who made this state
    edited_at = DateTimeField()

    meta = {
        "collection": "entry_versions",
        "indexes": [{"fields": ["entry", "version"], "unique": True}],
    }


class TimelineItem(Document):
    """One thing that happened on a dossier, numbered per dossier (`seq`) so that pages are
    bounded ranges on the index. It carries the visibility of what it shows."""

    dossier = ObjectIdField(required=True)
    seq = IntField(required=True)
    kind = StringField(required=True)  # entry, document, member, consent, exclusion, dossier…
    summary = StringField(required=True)
    entry = ObjectIdField()
    author = ObjectIdField()  # for the "private" visibility
    actor_name = StringField()
    actor_profession = StringField()
    actor_structure = StringField()
    visibility = StringField(default="public")
    category = StringField()
    deleted_at = DateTimeField()
    time = DateTimeField(default=utcnow)
    details = DictField()

    meta = {
        "collection": "timeline",
        # A kind filter has its own index: a filter outside the index would read every item of
        # the dossier on the embedded database.
        "indexes": [
            {"fields": ["dossier", "seq"], "unique": True},
            ("dossier", "kind", "seq"),
            "entry",
        ],
    }

    @property
    def actor_profession_label(self):
        return profession_label(self.actor_profession)


class HabilitationMatrix(Document):
    """The platform's habilitation matrix: data category -> profession category -> access.
    One document; absent, the default of app.reference applies."""

    id = StringField(primary_key=True, default="matrix")
    rules = DictField()
    updated_by = StringField()
    updated_at = DateTimeField(default=utcnow)

    meta = {"collection": "habilitations"}
