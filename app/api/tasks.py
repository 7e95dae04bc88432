"""API: tasks of running pathways — lists, form, completion, claim / release / assign."""

from flask import request

from app.api.core import current_api_user, json_body, route
from app.api.pathways import TAG, task_json, tasks_seen
from app.formkit import services as form_services
from app.inbox import services as inbox
from app.paging import page_number, page_size
from app.pathways import instances
from app.validation import InvalidInput, check

COMPLETE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["data"],
    "properties": {"data": {"type": "object"}},
}
ASSIGN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["user"],
    "properties": {"user": {"type": "string", "minLength": 1, "maxLength": 40}},
}


CLAIM_MANY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["tasks"],
    "properties": {
        "tasks": {
            "type": "array",
            "minItems": 1,
            "maxItems": inbox.MAX_BULK,
            "items": {"type": "string", "minLength": 1, "maxLength": 40},
        }
    },
}


@route(
    "/tasks",
    "GET",
    "Mes tâches (scope=mine), celles à prendre (available), celles des dossiers que je "
    "coordonne (followed) ; filtres dossier, pathway, due_before, overdue ; done=true : les "
    "tâches terminées ces 30 derniers jours ; sort=due|recent|oldest",
    params=(
        ("scope", {"enum": list(inbox.SCOPES), "description": "mine par défaut"}),
        "dossier",
        "pathway",
        "due_before",
        "overdue",
        "done",
        ("sort", {"enum": list(inbox.SORTS), "description": "due par défaut"}),
        "page",
        "per_page",
    ),
    tag=TAG,
)
def list_tasks():
    actor = current_api_user()
    scope = request.args.get("scope") or "mine"
    if scope not in inbox.SCOPES:
        raise InvalidInput(
            {"/scope": f"Liste inconnue : choisissez parmi {', '.join(inbox.SCOPES)}."}
        )
    found = inbox.tasks(
        actor, scope, inbox.Filters.from_args(request.args), page_number(), page_size()
    )
    seen = tasks_seen(actor, [task for task, _, _ in found.items])
    return {
        "items": [
            {
                **task_json(task, seen),
                "pathway": task.pathway,
                "pathway_name": task.pathway_name,
                "assignee_name": name,
            }  # fmt: skip
            for task, _, name in found.items
        ],
        "total": found.total,
        "page": found.page,
        "per_page": found.per_page,
        "counters": inbox.counters(actor),
    }


@route(
    "/tasks/claim-many",
    "POST",
    "Prendre plusieurs tâches à la fois : {tasks: [id…]} → celles prises et les refus",
    body=CLAIM_MANY,
    tag=TAG,
)
def claim_tasks():
    data = check(CLAIM_MANY, json_body())
    actor = current_api_user()
    taken, refused = inbox.claim_many(actor, data["tasks"])
    seen = tasks_seen(actor, taken)
    return {"claimed": [task_json(task, seen) for task in taken], "refused": refused}


def _one(actor, task):
    return task_json(task, tasks_seen(actor, [task]))


@route("/tasks/<task_id>", "GET", "Une tâche et son formulaire", tag=TAG)
def get_task(task_id):
    actor = current_api_user()
    _, task = instances.get_task(actor, task_id)
    form, version = form_services.get_version(actor, task.form_key)
    return {
        **_one(actor, task),
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
    actor = current_api_user()
    return _one(actor, instances.complete_task(actor, task_id, data["data"]))


@route("/tasks/<task_id>/claim", "POST", "Prendre une tâche proposée à mon rôle", tag=TAG)
def claim_task(task_id):
    actor = current_api_user()
    return _one(actor, instances.claim_task(actor, task_id))


@route("/tasks/<task_id>/release", "POST", "Rendre une tâche (elle redevient à prendre)", tag=TAG)
def release_task(task_id):
    actor = current_api_user()
    return _one(actor, instances.release_task(actor, task_id))


@route(
    "/tasks/<task_id>/assign",
    "POST",
    "Confier une tâche à quelqu'un (coordination) : {user}",
    body=ASSIGN,
    tag=TAG,
)
def assign_task(task_id):
    data = check(ASSIGN, json_body())
    actor = current_api_user()
    return _one(actor, instances.assign_task(actor, task_id, data["user"]))
