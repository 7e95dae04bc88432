import json

from mongoengine import (
    DateTimeField,
    Document,
    IntField,
    ObjectIdField,
    StringField,
)

from app.clock import utcnow
from app.reference import DATA_CATEGORIES, PURPOSES, SECTORS


class Form(Document):
    """A form of the library: global (no owner) or a structure's own. Its versions are
    FormVersion documents; `latest_version` is 0 until the first publication."""

    key = StringField(required=True, unique=True, max_length=64)
    title = StringField(required=True, max_length=200)
    description = StringField(max_length=1000)
    owner = ObjectIdField()  # the structure; None for a platform-wide form
    sector = StringField(choices=list(SECTORS))
    category = StringField(required=True, choices=list(DATA_CATEGORIES))
    # "patient": filled on a dossier; "platform": a step of a platform process (account
    # verification), never filed on a dossier. Platform-wide forms only.
    purpose = StringField(choices=list(PURPOSES), default="patient")
    latest_version = IntField(default=0)
    # The unpublished work in progress (JSON text, like the versions), if any.
    draft_title = StringField(max_length=200)
    draft_schema_json = StringField()
    draft_ui_schema_json = StringField()
    draft_updated_at = DateTimeField()
    draft_updated_by = StringField()
    created_by = StringField()
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta = {"collection": "forms", "indexes": ["owner", "category"]}

    def __repr__(self):
        return f"<Form {self.key} v{self.latest_version}>"

    @property
    def has_draft(self):
        return self.draft_schema_json is not None


class FormVersion(Document):
    """One published, immutable version. The schemas are kept as JSON text: MongoDB field
    names may not hold what JSON Schema keys do ("$schema", "$defs", dots)."""

    form = StringField(required=True)  # the form's key
    version = IntField(required=True)
    title = StringField(required=True)
    schema_json = StringField(required=True)
    ui_schema_json = StringField(required=True)
    digest = StringField(required=True)  # of the schemas: an unchanged file publishes nothing
    author = StringField()
    published_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "form_versions",
        "indexes": [{"fields": ["form", "version"], "unique": True}],
    }

    def __repr__(self):
        return f"<FormVersion {self.form} v{self.version}>"

    @property
    def schema(self):
        return json.loads(self.schema_json)

    @property
    def ui_schema(self):
        return json.loads(self.ui_schema_json)
