"""API: pathway definitions (DESIGN.md §5)."""

from flask import request

from app.api.core import ApiAbort, current_api_user, json_body, route
from app.dossiers import services as dossier_services
from app.formkit import services as form_services
from app.pathways import instances, services
from app.structures.services import structures_by_id
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
BPMN_BODY = {"type": "object", "properties": {"bpmn": {"type": "string"}}}


def _summary(pathway, owners):
    owner = owners.get(pathway.owner)
    return {
        "key": pathway.key,
        "name": pathway.name,
        "structure": owner.key if owner else None,
        "version": pathway.latest_version,
    }


@route(
    "/pathways",
    "POST",
    "Déployer un parcours (BPMN XML) ; 422 liste tous les problèmes ; ?structure=clé",
    body=BPMN_BODY,
    body_type="application/xml",
    response=DEPLOYED,
    status=201,
    params=("structure",),
    tag=TAG,
)
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
    number = request.args.get("version", type=int)
    pathway, version = services.get_version(current_api_user(), key, number)
    return {
        "key": pathway.key,
        "name": version.name,
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
COMPLETE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["data"],
    "properties": {"data": {"type": "object"}},
}


def task_json(task):
    return {
        "id": str(task.id),
        "instance": str(task.instance),
        "dossier": str(task.dossier),
        "title": task.title,
        "form_key": task.form_key,
        "care_role": task.care_role,
        "assignee": str(task.assignee) if task.assignee else None,
        "unresolved": bool(task.unresolved),
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "status": task.status,
        "entry": str(task.entry) if task.entry else None,
    }


def instance_json(instance, tasks):
    return {
        "id": str(instance.id),
        "dossier": str(instance.dossier),
        "pathway": instance.pathway,
        "version": instance.version,
        "status": instance.status,
        "error": instance.error or None,
        "tasks": [task_json(t) for t in tasks],
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
    dossier = dossier_services.get_dossier(actor, dossier_id, "pathway.start", record=False)
    data = check(START, json_body())
    instance = instances.start_pathway(actor, dossier, data["pathway"])
    return {"instance": str(instance.id)}, 201


@route("/instances/<instance_id>", "GET", "Un parcours en cours : état, tâches, erreur", tag=TAG)
def get_instance(instance_id):
    instance, tasks = instances.get_instance(current_api_user(), instance_id)
    return instance_json(instance, tasks)


@route(
    "/tasks",
    "GET",
    "Mes tâches (scope=mine) ou celles à prendre (scope=available)",
    params=("scope",),
    tag=TAG,
)
def list_tasks():
    scope = "available" if request.args.get("scope") == "available" else "mine"
    return {"items": [task_json(t) for t in instances.open_tasks(current_api_user(), scope)]}


@route("/tasks/<task_id>", "GET", "Une tâche et son formulaire", tag=TAG)
def get_task(task_id):
    actor = current_api_user()
    _, task = instances.get_task(actor, task_id)
    form, version = form_services.get_version(actor, task.form_key)
    return {
        **task_json(task),
        "form": {
            "key": form.key,
            "version": version.version,
            "schema": version.schema,
            "ui_schema": version.ui_schema,
        },
    }


@route(
    "/tasks/<task_id>/complete",
    "POST",
    "Terminer une tâche avec les données du formulaire",
    body=COMPLETE,
    tag=TAG,
)
def complete_task(task_id):
    data = check(COMPLETE, json_body())
    return task_json(instances.complete_task(current_api_user(), task_id, data["data"]))
