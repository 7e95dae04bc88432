import json

from mongoengine import DateTimeField, Document, IntField, ObjectIdField, StringField

from app.clock import utcnow


class Pathway(Document):
    """A coordination pathway: a BPMN process, its deployed versions in PathwayVersion.

    Its key is the BPMN process id; running instances keep the version they started with."""

    key = StringField(required=True, unique=True, max_length=100)
    name = StringField(required=True, max_length=200)
    owner = ObjectIdField()  # the structure; None for a platform-wide pathway
    latest_version = IntField(default=0)
    created_by = StringField()
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta = {"collection": "pathways", "indexes": ["owner"]}

    def __repr__(self):
        return f"<Pathway {self.key} v{self.latest_version}>"


class PathwayVersion(Document):
    """One deployed, immutable version: the BPMN as uploaded (the spec is parsed from it once
    per process and version, never copied into instances) and what deployment found in it."""

    pathway = StringField(required=True)  # the pathway's key
    version = IntField(required=True)
    name = StringField(required=True)
    bpmn = StringField(required=True)
    digest = StringField(required=True)  # of the BPMN: an unchanged file deploys nothing
    summary_json = StringField(required=True)  # user tasks, service tasks, timers
    trusted = IntField(default=0)  # 1: shipped in workflows/, may hold script tasks
    author = StringField()
    deployed_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "pathway_versions",
        "indexes": [{"fields": ["pathway", "version"], "unique": True}],
    }

    def __repr__(self):
        return f"<PathwayVersion {self.pathway} v{self.version}>"

    @property
    def summary(self):
        return json.loads(self.summary_json)
