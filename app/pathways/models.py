import json
from datetime import UTC, datetime

from mongoengine import (
    DateTimeField,
    DictField,
    Document,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
)

from app.clock import utcnow
from app.reference import PURPOSES


class Pathway(Document):
    """A coordination pathway: a BPMN process, its deployed versions in PathwayVersion.

    Its key is the BPMN process id; running instances keep the version they started with."""

    key = StringField(required=True, unique=True, max_length=100)
    name = StringField(required=True, max_length=200)
    owner = ObjectIdField()  # the structure; None for a platform-wide pathway
    # "patient": runs on a dossier; "platform": a process of the platform itself (account
    # verification), run on a subject, never on a dossier. The latest version's declaration.
    purpose = StringField(choices=list(PURPOSES), default="patient")
    latest_version = IntField(default=0)
    start_messages = ListField(StringField())  # BPMN messages that start the latest version
    created_by = StringField()
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta = {"collection": "pathways", "indexes": ["owner", "start_messages"]}

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


class PathwayInstance(Document):
    """A pathway running on a dossier (or, for the platform's own processes, on a `subject`
    such as "account_request:<id>"): its engine state (instance only, never the spec) with
    a revision number, so that a step is read state -> run -> write if unchanged."""

    dossier = ObjectIdField()
    subject = StringField(max_length=100)
    structure = ObjectIdField()  # the dossier's coordinating structure: whose admins retry
    pathway = StringField(required=True)
    version = IntField(required=True)
    name = StringField()
    status = StringField(
        choices=["running", "waiting", "completed", "error", "suspended"], default="running"
    )
    state = StringField(required=True)  # the engine's JSON
    revision = IntField(default=1)
    next_timer_at = DateTimeField()
    # A failed step: {"message": French text, "element": BPMN id, "at", "pending": what to
    # run again on retry (a completion with its data, timers, a message)}. Nothing is lost.
    error = DictField()
    # The worker that holds the instance until lease_until (timers): one at a time.
    lease_owner = StringField()
    lease_until = DateTimeField()
    started_by = StringField()
    started_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "pathway_instances",
        "indexes": [
            ("dossier", "status"),
            ("status", "next_timer_at"),
            ("status", "structure"),
            ("pathway", "status", "version"),  # migrations
            ("subject", "status"),
        ],
    }

    @property
    def is_open(self):
        return self.status in ("running", "waiting")


# The due_sort of a task without a due date: after every dated one.
NEVER_DUE = datetime(9999, 12, 31, tzinfo=UTC)


class Task(Document):
    """A user task of an instance, materialised for the inboxes: who must do it, by when."""

    instance = ObjectIdField(required=True)
    dossier = ObjectIdField()  # None: a step of a platform process (see `platform`)
    engine_id = StringField(required=True)  # the engine task's uuid
    spec = StringField(required=True)  # the BPMN element id
    title = StringField(required=True)
    form_key = StringField(required=True)
    care_role = StringField()  # the lane
    assignee = ObjectIdField()
    candidates_structure = ObjectIdField()  # "À prendre": members of this structure…
    candidate_professions = ListField(StringField())  # …with one of these professions
    unresolved = IntField(default=0)  # 1: nobody fits the lane, the coordinators decide
    platform = IntField(default=0)  # 1: for the platform team (the platform administrators)
    due_at = DateTimeField()
    due_sort = DateTimeField()  # due_at, or far ahead when none: "overdue first" on an index
    structure = ObjectIdField()  # the dossier's coordinating structure: whose "Suivi" lists it
    pathway = StringField()  # the pathway's key and name, for the inbox filters and cards
    pathway_name = StringField()
    # suspended: its dossier's consent was withdrawn (its pathway stopped where it was)
    status = StringField(choices=["open", "completed", "cancelled", "suspended"], default="open")
    claimed_at = DateTimeField()  # when a candidate took it (assignee set by claim)
    completed_by = ObjectIdField()
    completed_at = DateTimeField()
    entry = ObjectIdField()  # the dossier entry the submission became
    overdue_notified_at = DateTimeField()  # when its people were told it is late (once)
    created_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "tasks",
        "indexes": [
            {"fields": ["instance", "engine_id"], "unique": True},
            ("instance", "status"),  # an instance's open tasks, read at every step
            # The inbox's scopes (app/inbox): each query names only its index's fields.
            ("assignee", "status", "due_sort"),
            ("candidates_structure", "status", "assignee", "candidate_professions", "due_sort"),
            ("platform", "status", "assignee", "due_sort"),
            ("structure", "status", "due_sort"),
            ("dossier", "status", "due_sort"),
            ("completed_by", "status", "completed_at"),  # done lately: mine…
            ("structure", "status", "completed_at"),  # …and in the dossiers I follow
            ("status", "overdue_notified_at", "due_at"),  # late tasks (notifications)
        ],
    }

    def clean(self):
        self.due_sort = self.due_at or NEVER_DUE


class PathwayStep(Document):
    """What happened in an instance, one row per BPMN element passed or event: who, when.

    History lives here, not in the engine state that every step loads (issue 9)."""

    instance = ObjectIdField(required=True)
    dossier = ObjectIdField()
    kind = StringField(
        choices=["element", "error", "retry", "claim", "release", "assign", "migrate"],
        default="element",
    )
    spec = StringField()  # the BPMN element id
    name = StringField()
    element_type = StringField()  # UserTask, ExclusiveGateway, TimerEventDefinition…
    actor = ObjectIdField()  # None: the platform (a timer, a message)
    task = ObjectIdField()
    entry = ObjectIdField()
    detail = StringField()
    at = DateTimeField(default=utcnow)

    meta = {"collection": "pathway_steps", "indexes": [("instance", "at")]}
