"""API: pathway definitions (DESIGN.md §5)."""

from flask import request

from app.api.core import ApiAbort, current_api_user, json_body, route
from app.dossiers import entries
from app.dossiers import services as dossier_services
from app.engine.parser import MAX_BYTES
from app.paging import int_arg
from app.pathways import events, instances, migration, services, steps
from app.structures.services import structures_by_id
from app.uploads import accepts_large_uploads
from app.validation import check

TAG = "Parcours"
XML_TYPES = {"application/xml", "text/xml", "application/bpmn+xml"}
DEPLOYED = {
    "type": "object",
    "properties": {
        "key": {"type": "string"},
        "version": {"type": "integer"},
        "created": {"type": "boolean"},
    },
}
EXAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  id="definitions" targetNamespace="https://parcours.example/bpmn">
  <bpmn:process id="exemple_api" name="Exemple" isExecutable="true">
    <bpmn:startEvent id="debut"/>
    <bpmn:sequenceFlow id="f1" sourceRef="debut" targetRef="fin"/>
    <bpmn:endEvent id="fin"/>
  </bpmn:process>
</bpmn:definitions>
"""
BPMN_BODY = {
    "type": "string",
    "contentMediaType": "application/xml",
    "description": f"Le document BPMN 2.0 (XML, {MAX_BYTES // 2**20} Mio au plus)",
    "examples": [EXAMPLE],
}


def _summary(pathway, owners):
    owner = owners.get(pathway.owner)
    return {
        "key": pathway.key,
        "name": pathway.name,
        "structure": owner.key if owner else None,
        "purpose": pathway.purpose,
        "version": pathway.latest_version,
    }


@route(
    "/pathways",
    "POST",
    "Déployer un parcours (BPMN XML) ; 422 liste tous les problèmes ; ?structure=clé",
    body=BPMN_BODY,
    body_type=tuple(sorted(XML_TYPES)),
    response=DEPLOYED,
    status=201,
    also={200: "Document identique à la dernière version : rien de déployé (created: false)"},
    params=("structure",),
    tag=TAG,
)
@accepts_large_uploads(MAX_BYTES)  # a BPMN file may exceed MAX_CONTENT_LENGTH, as on the page
def deploy_pathway():
    if request.mimetype not in XML_TYPES:
        raise ApiAbort(
            415,
            "unsupported_media_type",
            "Le contenu doit être du BPMN XML (en-tête Content-Type: application/xml).",
        )
    pathway, version, created = services.deploy(
        current_api_user(), request.get_data(), request.args.get("structure") or None
    )
    return {"key": pathway.key, "version": version.version, "created": created}, (
        201 if created else 200
    )


@route("/pathways", "GET", "Les parcours déployés et leurs versions", tag=TAG)
def list_pathways():
    pathways = list(services.list_pathways(current_api_user()))
    owners = structures_by_id({p.owner for p in pathways if p.owner})
    return {"items": [_summary(p, owners) for p in pathways]}


@route(
    "/pathways/<key>",
    "GET",
    "Une version d'un parcours (la dernière par défaut)",
    params=("version",),
    tag=TAG,
)
def get_pathway(key):
    number = int_arg("version")
    pathway, version = services.get_version(current_api_user(), key, number)
    return {
        "key": pathway.key,
        "name": version.name,
        "purpose": pathway.purpose,
        "version": version.version,
        "deployed_at": version.deployed_at.isoformat(),
        "summary": version.summary,
        "bpmn": version.bpmn,
    }


START = {
    "type": "object",
    "additionalProperties": False,
    "required": ["pathway"],
    "properties": {"pathway": {"type": "string", "minLength": 1, "maxLength": 100}},
}


def task_json(task, seen):
    """A task; the entry it produced only if among `seen` (entries.openable)."""
    return {
        "id": str(task.id),
        "instance": str(task.instance),
        "dossier": str(task.dossier) if task.dossier else None,
        "platform": bool(task.platform),
        "title": task.title,
        "form_key": task.form_key,
        "care_role": task.care_role,
        "assignee": str(task.assignee) if task.assignee else None,
        "unresolved": bool(task.unresolved),
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "status": task.status,
        "completed_by": str(task.completed_by) if task.completed_by else None,
        "completed_at": task.completed_at.isoformat() if task.completed_at else None,
        "entry": str(task.entry) if task.entry in seen else None,
    }


def _error_json(error):
    if not error:
        return None
    return {"message": error.get("message"), "element": error.get("element"),
            "at": error["at"].isoformat() if error.get("at") else None,
            "retry": (error.get("pending") or {"op": "timers"})["op"]}  # fmt: skip


def step_json(step, actor_name, seen):
    return {
        "kind": step.kind,
        "element": step.spec,
        "name": step.name,
        "type": step.element_type,
        "by": {"id": str(step.actor), "name": actor_name} if step.actor else None,
        "at": step.at.isoformat(),
        "task": str(step.task) if step.task else None,
        "entry": str(step.entry) if step.entry in seen else None,
        "detail": step.detail,
    }


def tasks_seen(actor, tasks):
    """The entries produced by `tasks` that `actor` may open, for task_json."""
    return entries.openable(actor, [t.entry for t in tasks])


def instance_json(instance, tasks, history, seen):
    return {
        "id": str(instance.id),
        "dossier": str(instance.dossier) if instance.dossier else None,
        "subject": instance.subject,
        "pathway": instance.pathway,
        "version": instance.version,
        "name": instance.name,
        "status": instance.status,
        "error": _error_json(instance.error),
        "tasks": [task_json(t, seen) for t in tasks],
        "steps": [step_json(step, name, seen) for step, name in history],
    }


@route(
    "/dossiers/<dossier_id>/pathways",
    "POST",
    "Démarrer un parcours sur un dossier",
    body=START,
    status=201,
    tag=TAG,
)
def start_pathway(dossier_id):
    actor = current_api_user()
    dossier = dossier_services.get_dossier(actor, dossier_id, record=False)
    data = check(START, json_body())
    instance = instances.start_pathway(actor, dossier, data["pathway"])
    return {"instance": str(instance.id)}, 201


@route("/instances/<instance_id>", "GET", "Un parcours en cours : état, tâches, erreur", tag=TAG)
def get_instance(instance_id):
    actor = current_api_user()
    instance, tasks = instances.get_instance(actor, instance_id)
    history = steps.history(instance)
    # An admin who may retry the steps sees them, not the dossier nor its entries.
    mentioned = [t.entry for t in tasks] + [step.entry for step, _ in history]
    return instance_json(instance, tasks, history, entries.openable(actor, mentioned))


@route(
    "/instances/<instance_id>/retry",
    "POST",
    "Relancer l'étape en erreur d'un parcours (administrateurs)",
    tag=TAG,
)
def retry_instance(instance_id):
    actor = current_api_user()
    instance = instances.retry(actor, instance_id)
    return {"id": str(instance.id), "status": instance.status,
            "error": _error_json(instance.error)}  # fmt: skip


@route(
    "/dossiers/<dossier_id>/events",
    "POST",
    "Envoyer un message BPMN aux parcours du dossier : {name, payload}",
    body=events.EVENT,
    tag=TAG,
)
def send_event(dossier_id):
    actor = current_api_user()
    dossier = dossier_services.get_dossier(actor, dossier_id, "pathway.event", record=False)
    data = check(events.EVENT, json_body())
    return events.deliver_event(actor, dossier, data["name"], data.get("payload") or {})


MIGRATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "version": {"type": "integer", "minimum": 1},
        "instances": {
            "type": "array",
            "maxItems": 1000,
            "items": {"type": "string", "minLength": 1, "maxLength": 40},
        },
    },
}


def _refused_json(refused):
    return [{"instance": str(i.id), "version": i.version, "reasons": r} for i, r in refused]


@route(
    "/pathways/<key>/migration",
    "GET",
    "Les parcours en cours d'anciennes versions : migrables ou non, et pourquoi",
    params=("version",),
    tag=TAG,
)
def migration_plan(key):
    number = int_arg("version")
    _, target, checked = migration.plan(current_api_user(), key, number)
    return {
        "version": target.version,
        "safe": [str(i.id) for i, reasons in checked if not reasons],
        "unsafe": _refused_json([(i, r) for i, r in checked if r]),
    }


@route(
    "/pathways/<key>/migrate",
    "POST",
    "Passer les parcours en cours à une version (la dernière par défaut), s'il est sûr de le faire",
    body=MIGRATE,
    tag=TAG,
)
def migrate(key):
    data = check(MIGRATE, json_body())
    moved, refused = migration.migrate_instances(
        current_api_user(), key, data.get("version"), data.get("instances")
    )
    return {"migrated": [str(i.id) for i in moved], "refused": _refused_json(refused)}
