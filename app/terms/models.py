from mongoengine import DateTimeField, Document, IntField, ObjectIdField, StringField

from app.clock import utcnow

MAX_TEXT = 100_000


class TermsVersion(Document):
    """A published version of the CGU: never changed afterwards (a new one is published)."""

    version = IntField(required=True, unique=True, min_value=1)
    text = StringField(required=True, max_length=MAX_TEXT)
    summary = StringField(max_length=500)  # what changed, shown when everyone is asked again
    published_by = ObjectIdField()
    published_at = DateTimeField(default=utcnow)

    meta = {"collection": "terms_versions", "indexes": ["-version"]}


class TermsAcceptance(Document):
    """One user accepted one version, at that time."""

    user = ObjectIdField(required=True)
    version = IntField(required=True)
    accepted_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "terms_acceptances",
        "indexes": [{"fields": ["user", "version"], "unique": True}],
    }
