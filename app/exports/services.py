"""What an export holds: exactly what the caller may see of a dossier (or of one entry), read
once here with the policy, then formatted by a plugin's exporter (app/plugins.py)."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app

from app import audit, policy
from app.accounts.models import User
from app.clock import utcnow
from app.discussions.models import Discussion, Message
from app.dossiers import entries as dossier_entries
from app.dossiers import services as dossiers
from app.errors import NotFound
from app.formkit.models import FormVersion
from app.pathways import instances, steps
from app.pathways.models import PathwayInstance, Task
from app.plugins import host_of
from app.structures.services import cached_structure
from app.validation import InvalidInput

PATHWAY_NOT_FOUND = "Ce parcours n'existe pas ou vous n'y avez pas accès."
MAX_MESSAGES = 5000  # a dossier's thread in an export: the latest ones


@dataclass
class ExportView:
    """The export's content; every list holds only what `actor` may see."""

    kind: str  # "dossier", "entry" or "pathway"
    actor: object
    generated_at: datetime
    dossier: object
    structure: object
    members: list = field(default_factory=list)
    entries: list = field(default_factory=list)  # notes, submissions, documents
    forms: dict = field(default_factory=dict)  # (key, version) -> FormVersion
    pathways: list = field(default_factory=list)  # (instance, [tasks])
    messages: list = field(default_factory=list)
    # The dossier documents attached to `messages` that `actor` may open: the others are
    # named in no format (discussions.services.named).
    documents: set = field(default_factory=set)
    people: dict = field(default_factory=dict)  # user id -> User (authors, members)


def exporter(name):
    found = host_of(current_app).exporters.get(name)
    if found is None:
        known = ", ".join(sorted(host_of(current_app).exporters)) or "aucun"
        message = f"Format d'export inconnu « {name[:20]} » (disponibles : {known})."
        raise InvalidInput({"/format": message}, message)
    return found


def _forms(found):
    keys = {(e.form, e.form_version) for e in found if e.kind == "form"}
    versions = FormVersion.objects(form__in=[k for k, _ in keys]) if keys else []
    return {(v.form, v.version): v for v in versions if (v.form, v.version) in keys}


def _people(ids):
    ids = [i for i in ids if i]
    return {u.id: u for u in User.objects(id__in=ids).only("name", "email", "profession")}


def dossier_view(actor, dossier):
    visible = dossier_entries.list_entries(actor, dossier)
    view = ExportView("dossier", actor, utcnow(), dossier, cached_structure(dossier.structure),
                      members=list(dossier.members), entries=visible)  # fmt: skip
    view.forms = _forms(visible)
    instances = list(PathwayInstance.objects(dossier=dossier.id).exclude("state").order_by("id"))
    tasks = defaultdict(list)  # one query for the tasks of every pathway
    for task in Task.objects(instance__in=[i.id for i in instances]).order_by("created_at"):
        if policy.can(actor, "task.view", (dossier, task)):
            tasks[task.instance].append(task)
    view.pathways = [(instance, tasks[instance.id]) for instance in instances]
    thread = Discussion.objects(kind="dossier", dossier=dossier.id).first()
    if thread and policy.can(actor, "discussion.view", (thread, dossier)):
        latest = Message.objects(
            discussion=thread.id, seq__gt=max(0, thread.last_seq - MAX_MESSAGES)
        )
        view.messages = list(latest.order_by("seq"))
        # The entries `actor` sees are read above, with the same entry.view check.
        view.documents = {e.id for e in visible}
    view.people = _people({e.author for e in visible} | {m.user for m in dossier.members}
                          | {m.author for m in view.messages})  # fmt: skip
    return view


def entry_view(actor, found):
    dossier, entry = found
    view = ExportView("entry", actor, utcnow(), dossier, cached_structure(dossier.structure),
                      entries=[entry])  # fmt: skip
    view.forms = _forms([entry])
    view.people = _people([entry.author])
    return view


def pathway_view(actor, found):
    """A pathway of a dossier: its steps the actor may see and the entries they produced.
    Only for who sees the dossier (an admin who may retry its steps does not)."""
    instance, tasks = found
    dossier = steps.dossier_of(instance)
    if dossier is None or not policy.can(actor, "dossier.view", dossier):
        raise NotFound(PATHWAY_NOT_FOUND)
    seen = [t for t in tasks if policy.can(actor, "task.view", (dossier, t))]
    produced = {t.entry for t in seen if t.entry}
    visible = [e for e in dossier_entries.list_entries(actor, dossier) if e.id in produced]
    view = ExportView("pathway", actor, utcnow(), dossier, cached_structure(dossier.structure),
                      entries=visible, pathways=[(instance, seen)])  # fmt: skip
    view.forms = _forms(visible)
    view.people = _people([e.author for e in visible])
    return view


def _subject(actor, kind, subject_id):
    """(the subject, the view maker), access checked first."""
    if kind == "dossier":
        return dossiers.get_dossier(actor, subject_id, record=False), dossier_view
    if kind == "pathway":
        return instances.get_instance(actor, subject_id), pathway_view
    found = dossier_entries.get_entry(actor, subject_id)
    if found[1].deleted:
        raise NotFound(dossier_entries.NOT_FOUND)
    return found, entry_view


def export(actor, kind, subject_id, name):
    """(bytes, media type, file name) of the subject in format `name`; audited. Access
    first: who may not see the subject learns nothing, not even which formats exist."""
    subject, make = _subject(actor, kind, subject_id)
    chosen = exporter(name)
    view = make(actor, subject)
    content = chosen.build(view)
    subject = {"dossier": lambda: view.dossier, "entry": lambda: view.entries[0],
               "pathway": lambda: view.pathways[0][0]}[kind]()  # fmt: skip
    audit.record(actor, f"{kind}.export", subject, dossier=str(view.dossier.id), format=name,
                 entries=len(view.entries), messages=len(view.messages))  # fmt: skip
    day = view.generated_at.strftime("%Y%m%d")
    return content, chosen.media_type, f"parcours-{kind}-{subject_id}-{day}.{chosen.extension}"
