"""API: tasks of running pathways — lists, form, completion, claim / release / assign."""

from flask import request

from app.api.core import current_api_user, json_body, route
from app.api.pathways import TAG, task_json
from app.formkit import services as form_services
from app.pathways import instances
from app.validation import check

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


@route("/tasks/<task_id>/claim", "POST", "Prendre une tâche proposée à mon rôle", tag=TAG)
def claim_task(task_id):
    return task_json(instances.claim_task(current_api_user(), task_id))


@route("/tasks/<task_id>/release", "POST", "Rendre une tâche (elle redevient à prendre)", tag=TAG)
def release_task(task_id):
    return task_json(instances.release_task(current_api_user(), task_id))


@route(
    "/tasks/<task_id>/assign",
    "POST",
    "Confier une tâche à quelqu'un (coordination) : {user}",
    body=ASSIGN,
    tag=TAG,
)
def assign_task(task_id):
    data = check(ASSIGN, json_body())
    return task_json(instances.assign_task(current_api_user(), task_id, data["user"]))
