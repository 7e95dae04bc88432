"""Running pathways on dossiers: start, complete a step, keep the tasks in step with the engine.

A step is: load the instance -> run it in the engine -> write its state only if its revision is
unchanged. Two people completing the same task at the same moment: the second write finds a
newer revision and is refused (409), and nothing of it is kept — no entry, no task change.
"""

from app import audit, policy, signals
from app.clock import utcnow
from app.dossiers import entries, timeline
from app.dossiers.services import find, get_in_dossier, object_id
from app.engine.iso8601 import duration_of
from app.engine.runtime import EngineError, Runtime
from app.errors import Conflict, NotFound
from app.formkit import services as forms
from app.pathways import services
from app.pathways.models import PathwayInstance, Task
from app.pathways.routing import route_step
from app.validation import InvalidInput

NOT_FOUND = "Cette tâche n'existe pas ou vous n'y avez pas accès."


def _status(engine):
    return "completed" if engine.is_completed() else "running"


def _sync_tasks(instance, engine, dossier):
    """Create a Task for every ready user task not yet materialised; cancel those the engine
    no longer offers (a branch taken elsewhere, a boundary event)."""
    ready = {task["id"]: task for task in engine.ready_user_tasks()}
    known = {t.engine_id: t for t in Task.objects(instance=instance.id, status="open")}
    for engine_id, task in known.items():
        if engine_id not in ready:
            Task.objects(id=task.id, status="open").update_one(set__status="cancelled")
    for engine_id, spec in ready.items():
        if engine_id in known:
            continue
        due = duration_of(spec["due_in"]) if spec.get("due_in") else None
        Task(
            instance=instance.id,
            dossier=dossier.id,
            engine_id=engine_id,
            spec=spec["spec"],
            title=spec["name"] or spec["spec"],
            form_key=spec["form_key"],
            care_role=spec["lane"],
            due_at=utcnow() + due if due else None,
            **route_step(dossier, spec["lane"]),
        ).save()


def start_pathway(actor, dossier, key):
    policy.require(actor, "pathway.start", dossier)
    pathway, version = services.get_version(actor, key)
    try:
        engine = Runtime.for_version(version).start({})
    except EngineError as error:
        raise InvalidInput({"/pathway": error.message}, error.message) from None
    instance = PathwayInstance(
        dossier=dossier.id,
        pathway=pathway.key,
        version=version.version,
        name=version.name,
        status=_status(engine),
        state=engine.dump(),
        next_timer_at=engine.next_timer_at(),
        started_by=str(actor.id),
    )
    instance.save(force_insert=True)
    _sync_tasks(instance, engine, dossier)
    audit.record(actor, "pathway.start", instance, dossier=str(dossier.id), pathway=key)
    timeline.append(actor, dossier, "pathway", f"Parcours « {version.name} » démarré")
    return instance


def get_task(actor, task_id, action="task.view"):
    return get_in_dossier(actor, Task, task_id, action, "task.view", NOT_FOUND)


def complete_task(actor, task_id, data):
    """Validate the form, run the step, then write state, task and entry — or nothing."""
    dossier, task = get_task(actor, task_id, "task.complete")
    if task.status != "open":
        raise _done_by(task)
    instance = PathwayInstance.objects(id=task.instance).first()
    _, form_version = forms.get_version(actor, task.form_key)
    try:
        submitted = forms.validate_submission(form_version, data)
    except InvalidInput as error:
        raise InvalidInput(
            {f"/data{p}": m for p, m in error.fields.items()}, error.message
        ) from None
    _, version = services.get_version(actor, instance.pathway, instance.version)
    try:
        engine = Runtime.for_version(version).restore(instance.state)
        engine.complete(task.engine_id, task.form_key, submitted)
    except EngineError as error:
        _fail(instance, error)
        raise InvalidInput({"/data": error.message}, error.message) from None
    written = PathwayInstance.objects(id=instance.id, revision=instance.revision).update_one(
        set__state=engine.dump(),
        set__status=_status(engine),
        set__next_timer_at=engine.next_timer_at(),
        set__updated_at=utcnow(),
        inc__revision=1,
    )
    if not written:
        task.reload()
        raise _done_by(task)
    entry = entries.add_entry(
        actor, dossier, {"form": task.form_key, "data": submitted, "visibility": "shared"}
    )
    Task.objects(id=task.id).update_one(
        set__status="completed",
        set__completed_by=actor.id,
        set__completed_at=utcnow(),
        set__entry=entry.id,
    )
    instance.reload()
    _sync_tasks(instance, engine, dossier)
    audit.record(actor, "task.complete", task, dossier=str(dossier.id), entry=str(entry.id))
    task.reload()
    return task


def _done_by(task):
    from app.accounts.models import User

    who = User.objects(id=task.completed_by).only("name").first() if task.completed_by else None
    name = who.name if who else "quelqu'un d'autre"
    return Conflict(f"Cette tâche a déjà été faite par {name}.")


def _fail(instance, error):
    PathwayInstance.objects(id=instance.id).update_one(
        set__error={"message": error.message, "element": error.element_id}
    )


def get_instance(actor, instance_id):
    """(instance, its tasks) for someone who sees its dossier."""
    oid = object_id(instance_id)
    instance = PathwayInstance.objects(id=oid).first() if oid else None
    if instance is None or not policy.can(actor, "dossier.view", find(instance.dossier)):
        raise NotFound("Ce parcours n'existe pas ou vous n'y avez pas accès.")
    return instance, list(Task.objects(instance=instance.id).order_by("created_at"))


def open_tasks(actor, scope="mine"):
    if scope == "available":
        ids = [m.structure for m in actor.memberships]
        found = Task.objects(
            candidates_structure__in=ids,
            candidate_professions=actor.profession,
            assignee=None,
            status="open",
        )
    else:
        found = Task.objects(assignee=actor.id, status="open")
    return list(found.order_by("due_at"))


@signals.consent_withdrawn.connect
def suspend_on_withdrawal(actor, dossier, **extra):
    """Consent withdrawn: the dossier's running pathways stop where they are (their open
    tasks can no longer be completed: the policy refuses writes on such a dossier)."""
    suspended = PathwayInstance.objects(
        dossier=dossier.id, status__in=["running", "waiting", "error"]
    ).update(set__status="suspended", set__updated_at=utcnow())
    if suspended:
        audit.record(actor, "pathway.suspend", dossier, dossier=str(dossier.id), count=suspended)
