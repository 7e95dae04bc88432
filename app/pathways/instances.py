"""Running pathways on dossiers: start, complete a step, keep the tasks in step with the engine.

A step is: load the instance -> run it in the engine -> write its state only if its revision is
unchanged. Two people completing the same task at the same moment: the second write finds a
newer revision and is refused (409), and nothing of it is kept — no entry, no task change.
"""

from app import audit, policy, signals
from app.accounts.models import User
from app.clock import utcnow
from app.dossiers import circle, entries
from app.dossiers.habilitations import may_write
from app.dossiers.services import find, get_in_dossier, object_id
from app.engine.runtime import EngineError, Runtime, TaskNotReady
from app.errors import Conflict, Forbidden, NotFound
from app.formkit import services as forms
from app.pathways import services, steps, tallies
from app.pathways.models import PathwayInstance, PathwayStep, Task
from app.pathways.routing import route_step
from app.reference import DATA_CATEGORIES
from app.validation import InvalidInput

NOT_FOUND = "Cette tâche n'existe pas ou vous n'y avez pas accès."
TAKEN = "Cette tâche est déjà prise par quelqu'un d'autre."
CANNOT_DO = (
    "Cette personne ne peut pas faire cette tâche (ni dans le cercle de soins ni dans "
    "l'équipe de coordination, refusée par la personne, ou sans habilitation à écrire les "
    "données de son formulaire)."
)


NOT_HERE = {
    "platform": "« {name} » est un processus interne de la plateforme : il ne démarre pas sur "
    "un dossier.",
    "owner": "« {name} » est un parcours d'une autre structure : il ne démarre que sur les "
    "dossiers qu'elle coordonne.",
}


def startable(actor, dossier):
    """The pathways `actor` may start on `dossier` (the start list of its page)."""
    return [
        pathway
        for pathway in services.list_pathways(actor)
        if pathway.latest_version and policy.can(actor, "pathway.start", (dossier, pathway))
    ]


def _require_start(actor, dossier, pathway):
    """Forbidden unless `actor` may start `pathway` on `dossier`, saying why: a platform
    process, another structure's pathway, or not managing the dossier."""
    if policy.can(actor, "pathway.start", (dossier, pathway)):
        return
    if reason := policy.not_used_on(pathway, dossier):
        raise Forbidden(NOT_HERE[reason].format(name=pathway.name))
    policy.require(actor, "pathway.start", (dossier, pathway))


def start_pathway(actor, dossier, key):
    """Start the pathway `key` on `dossier`: a patient pathway of the platform or of the
    dossier's coordinating structure, by those who manage the dossier."""
    pathway, version = services.get_version(actor, key)
    _require_start(actor, dossier, pathway)
    try:
        engine = Runtime.for_version(version).start({})
    except EngineError as error:
        raise InvalidInput({"/pathway": error.message}, error.message) from None
    return steps.create(actor, dossier, version, engine)


def start_for_subject(actor, key, subject, data=None):
    """Start a platform process (a pathway of the platform itself, such as demande_compte)
    on `subject` ("account_request:<id>"…); `data` is what its expressions start with."""
    pathway, version = services.get_version(actor, key)
    policy.require(actor, "pathway.manage", None)  # the platform's own processes
    if pathway.owner is not None or pathway.purpose != "platform":
        raise InvalidInput(
            {"/pathway": "Seuls les processus internes de la plateforme s'exécutent hors "
                         "dossier."}
        )  # fmt: skip
    try:
        engine = Runtime.for_version(version).start(data or {})
    except EngineError as error:
        raise InvalidInput({"/pathway": error.message}, error.message) from None
    return steps.create(actor, None, version, engine, subject=subject)


def get_task(actor, task_id, action="task.view"):
    """(dossier, task) if `actor` may do `action` on it. A candidate who no longer sees the
    task because someone else took or did it meanwhile gets 409 saying so, not 404."""
    try:
        return get_in_dossier(actor, Task, task_id, action, "task.view", NOT_FOUND)
    except NotFound:
        if (lost := _lost_race(actor, task_id)) is None:
            raise
        raise lost from None


def _lost_race(actor, task_id):
    """The 409 for a candidate who lost the race for the task (policy task.lost), or None."""
    oid = object_id(task_id)
    task = Task.objects(id=oid).first() if oid else None
    if task is None:
        return None
    dossier = find(task.dossier) if task.dossier is not None else None
    if not policy.can(actor, "task.lost", (dossier, task)):
        return None
    return _done_by(task) if task.status == "completed" else Conflict(TAKEN)


def unhabilitated(actor, dossier, task):
    """Why `actor` may not fill the task's form (French), or None: the habilitation to write
    its data category (the submission becomes an entry of the dossier)."""
    category = forms.category_of(task.form_key)
    if dossier is None or may_write(actor, category):
        return None
    return (
        "Votre profession n'est pas habilitée à écrire les données "
        f"« {DATA_CATEGORIES.get(category, category)} » du formulaire de cette tâche : la "
        "coordination peut la confier à une personne habilitée."
    )


def _require_on_task(actor, action, dossier, task):
    """policy.require on the task; a refusal says so when the habilitation is what is missing,
    and a candidate who lost the race for it gets 409 (judged on the task as it is now)."""
    if not policy.can(actor, action, (dossier, task)):
        raise _lost_race(actor, task.id) or Forbidden(unhabilitated(actor, dossier, task))


def complete_task(actor, task_id, data):
    """Validate the form, run the step, then write state, task and entry — or nothing: every
    check (access, habilitation, form, state of the pathway) comes before the first write."""
    dossier, task = get_task(actor, task_id)
    _require_on_task(actor, "task.complete", dossier, task)
    if task.status != "open":
        raise _done_by(task)
    instance = PathwayInstance.objects(id=task.instance).first()
    _refuse_if_stopped(instance)
    form, version = forms.get_version(actor, task.form_key)
    try:
        submitted = forms.validate_submission(version, data)
    except InvalidInput as error:
        raise InvalidInput(
            {f"/data{p}": m for p, m in error.fields.items()}, error.message
        ) from None
    if task.assignee is None:  # a candidate completes: they take it first
        task = claim_task(actor, task_id)
        if dossier is not None:
            dossier.reload()
    pending = {"op": "complete", "task": str(task.id), "data": submitted, "actor": str(actor.id),
               "form_version": version.version}  # fmt: skip
    with audit.batched():
        return _complete(actor, dossier, task, instance, (form, version, submitted), pending)


def _complete(actor, dossier, task, instance, submission, pending):
    """Run the step with the validated `submission` (form, version, data), then write the
    entry and the task: the state write comes first, and a lost race leaves nothing. The
    entry's access is checked before the state is written; once it is, the completion is
    audited whatever fails next."""
    form, version, submitted = submission
    if dossier is not None:  # the entry it becomes is refused before anything is written
        entries.require_fill(actor, dossier, form)
    try:
        engine, result, passed = steps.run(
            instance,
            lambda engine: engine.complete(task.engine_id, task.form_key, submitted),
            actor=actor,
            pending=pending,
        )
    except (steps.Stale, TaskNotReady):
        task.reload()
        raise _done_by(task) from None
    try:
        _written(actor, dossier, task, instance, submission, (engine, result, passed))
    finally:
        audit.record(
            actor, "task.complete", task, dossier=steps.ref(dossier), entry=str(task.entry)
        )
    signals.task_changed.send(actor, task=task)
    signals.task_completed.send(actor, task=task, instance=instance, data=submitted)
    return task


def _written(actor, dossier, task, instance, submission, step):
    """After the state of a completed step was written: its entry, its task, the rest."""
    form, version, submitted = submission
    engine, result, passed = step
    # On a dossier, the submission becomes one of its entries; a platform process keeps it
    # in its own data (and history).
    entry = (
        entries.add_submission(actor, dossier, form, version, submitted, "shared")
        if dossier is not None
        else None
    )
    done = {"status": "completed", "completed_by": actor.id, "completed_at": utcnow(),
            "entry": entry.id if entry else None}  # fmt: skip
    Task.objects(id=task.id).update_one(**{f"set__{k}": v for k, v in done.items()})
    tallies.closed([task])
    for name, value in done.items():
        setattr(task, name, value)
    steps.settle(instance, dossier, engine, result, passed, actor=actor, task=task, entry=entry)


def _refuse_if_stopped(instance):
    if instance.status == "error":
        raise Conflict(
            "Ce parcours est en erreur : il doit être relancé par un administrateur "
            f"({instance.error.get('message', '')})."
        )
    if not instance.is_open:
        raise Conflict("Ce parcours n'est plus en cours.")


def _done_by(task):
    who = User.objects(id=task.completed_by).only("name").first() if task.completed_by else None
    name = who.name if who else "quelqu'un d'autre"
    return Conflict(f"Cette tâche a déjà été faite par {name}.")


def get_instance(actor, instance_id):
    """(instance, its tasks) for someone who sees its dossier, or may retry its steps (the
    admins, who see the steps but not the dossier)."""
    oid = object_id(instance_id)
    instance = PathwayInstance.objects(id=oid).exclude("state").first() if oid else None
    if instance is None or not _sees_instance(actor, instance, steps.dossier_of(instance)):
        raise NotFound("Ce parcours n'existe pas ou vous n'y avez pas accès.")
    return instance, list(Task.objects(instance=instance.id).order_by("created_at"))


def _sees_instance(actor, instance, dossier):
    """Those who see its dossier; those who may retry its steps (without the dossier)."""
    if dossier is None:
        return instance.dossier is None and policy.can(actor, "pathway.retry", None)
    return policy.can(actor, "dossier.view", dossier) or policy.can(actor, "pathway.retry", dossier)


def of_dossier(actor, dossier):
    """The dossier's pathways (newest first) and its open tasks that `actor` sees."""
    policy.require(actor, "dossier.view", dossier)
    found = list(PathwayInstance.objects(dossier=dossier.id).exclude("state").order_by("-id"))
    tasks = [
        task
        for task in Task.objects(dossier=dossier.id, status="open").order_by("due_sort")
        if policy.can(actor, "task.view", (dossier, task))
    ]
    return found, tasks


def in_error(actor):
    """The instances in error that `actor` may retry: all for platform admins, those of their
    structures' dossiers for structure admins."""
    policy.require(actor, "pathway.failures")
    found = PathwayInstance.objects(status="error").exclude("state")
    if not actor.platform_admin:
        mine = [m.structure for m in actor.memberships if "structure_admin" in m.roles]
        found = found.filter(structure__in=mine)
    return list(found.order_by("-updated_at").limit(200))


@signals.consent_withdrawn.connect
def suspend_on_withdrawal(actor, dossier, **extra):
    """Consent withdrawn: the dossier's running pathways stop where they are (their open
    tasks can no longer be completed: the policy refuses writes on such a dossier)."""
    suspended = PathwayInstance.objects(
        dossier=dossier.id, status__in=["running", "waiting", "error"]
    ).update(set__status="suspended", set__updated_at=utcnow())
    fields = ("id", "structure", "assignee", "pathway", "due_sort")
    stopped = list(Task.objects(dossier=dossier.id, status="open").only(*fields))
    Task.objects(id__in=[t.id for t in stopped], status="open").update(set__status="suspended")
    tallies.closed(stopped)
    if suspended:
        audit.record(actor, "pathway.suspend", dossier, dossier=str(dossier.id), count=suspended)


def claim_task(actor, task_id):
    """A candidate takes the task: it becomes theirs (and leaves "À prendre"). Someone else
    holds it already: 409, also for the candidates it was offered to (who no longer see it)."""
    dossier, task = get_task(actor, task_id)
    if task.assignee not in (None, actor.id):
        raise _done_by(task) if task.status == "completed" else Conflict(TAKEN)
    _require_on_task(actor, "task.claim", dossier, task)
    taken = Task.objects(id=task.id, status="open", assignee=None).update_one(
        set__assignee=actor.id, set__claimed_at=utcnow()
    )
    if not taken:
        raise Conflict(TAKEN)
    tallies.moved(task, None, actor.id)
    if dossier is not None:
        circle.join_for_task(actor, dossier, task.care_role)
    return _changed(actor, dossier, task, "claim")


def release_task(actor, task_id):
    """The assignee gives the task back: it goes to the coordinating structure's members
    of its role ("À prendre"), or to the coordination when nobody has that role."""
    dossier, task = get_task(actor, task_id, "task.release")
    routed = route_step(
        dossier, task.care_role, skip=actor.id, category=forms.category_of(task.form_key)
    )
    given_back = Task.objects(id=task.id, status="open", assignee=actor.id).update_one(
        set__assignee=routed.get("assignee"),
        set__candidates_structure=routed.get("candidates_structure"),
        set__candidate_professions=routed.get("candidate_professions", []),
        set__unresolved=routed.get("unresolved", 0),
        unset__claimed_at=True,
    )
    if not given_back:
        raise Conflict("Cette tâche n'est plus à vous.")
    tallies.moved(task, actor.id, routed.get("assignee"))
    return _changed(actor, dossier, task, "release")


def _may_take_over(user, dossier, task):
    """Whether `user` could complete the task if it were given to them."""
    trial = Task._from_son(task.to_mongo())  # the task as it would be: is it theirs to do?
    trial.assignee = user.id
    return policy.can(user, "task.complete", (dossier, trial))


def assignable(dossier, task):
    """Whom the coordination may give the task to: the circle's members with an account who
    could complete it (habilitated to write its form)."""
    ids = [m.user for m in dossier.members if m.user and m.user != task.assignee]
    found = User.objects(id__in=ids, status="active").only("name", "profession", "status")
    return [user for user in found if _may_take_over(user, dossier, task)]


def assign_task(actor, task_id, user_id):
    """The coordination gives the task to someone who may do it."""
    dossier, task = get_task(actor, task_id, "task.assign")
    if task.status != "open":
        raise Conflict("Cette tâche n'est plus ouverte.")
    assignee = User.objects(id=object_id(user_id), status="active").first() if user_id else None
    if assignee is None or not _may_take_over(assignee, dossier, task):
        raise InvalidInput({"/user": CANNOT_DO}, CANNOT_DO)
    given = Task.objects(id=task.id, status="open", assignee=task.assignee).update_one(
        set__assignee=assignee.id, set__unresolved=0, set__claimed_at=utcnow()
    )
    if not given:
        raise Conflict("Cette tâche vient de changer : rechargez la page.")
    tallies.moved(task, task.assignee, assignee.id)
    return _changed(actor, dossier, task, "assign", assignee)


def _changed(actor, dossier, task, kind, assignee=None):
    task.reload()
    PathwayStep(
        instance=task.instance,
        dossier=task.dossier,
        kind=kind,
        spec=task.spec,
        name=task.title,
        actor=actor.id,
        task=task.id,
        detail=assignee.name if assignee else None,
    ).save()
    audit.record(
        actor, f"task.{kind}", task, dossier=steps.ref(dossier), assignee=str(task.assignee)
    )
    signals.task_changed.send(actor, task=task)
    if task.assignee and task.assignee != actor.id:
        signals.task_assigned.send(actor, dossier=dossier, task=task)
    elif kind == "release" and task.assignee is None:
        signals.task_offered.send(actor, dossier=dossier, task=task)
    return task


def retry(actor, instance_id):
    """Run the failed step of an instance again (after its cause was fixed)."""
    oid = object_id(instance_id)
    instance = PathwayInstance.objects(id=oid).first() if oid else None
    dossier = steps.dossier_of(instance) if instance else None
    if instance is None or not _sees_instance(actor, instance, dossier):
        raise NotFound("Ce parcours n'existe pas ou vous n'y avez pas accès.")
    policy.require(actor, "pathway.retry", dossier)
    if instance.status != "error":
        raise Conflict("Ce parcours n'est pas en erreur.")
    pending = instance.error.get("pending") or {"op": "timers"}
    PathwayStep(
        instance=instance.id, dossier=instance.dossier, kind="retry", actor=actor.id,
        spec=instance.error.get("element"),
    ).save()  # fmt: skip
    audit.record(actor, "pathway.retry", instance, dossier=steps.ref(dossier), op=pending["op"])
    if pending["op"] == "complete":
        task = Task.objects(id=pending["task"]).first()
        author = User.objects(id=pending["actor"]).first()
        if task is None or author is None or task.status != "open":
            raise Conflict("L'étape à relancer n'existe plus.")
        if not policy.can(author, "task.complete", (dossier, task)):
            raise Conflict(
                f"{author.name}, qui avait rempli cette étape, n'y a plus accès : "
                "la tâche doit être refaite."
            )
        form, version = forms.get_version(author, task.form_key, pending.get("form_version"))
        with audit.batched():
            _complete(author, dossier, task, instance, (form, version, pending["data"]), pending)
    else:
        operation = {
            "timers": lambda engine: engine.fire_timers(utcnow()),
            "message": lambda engine: engine.send_message(pending["name"], pending["payload"]),
        }[pending["op"]]
        try:
            engine, result, passed = steps.run(instance, operation, actor=actor, pending=pending)
        except steps.Stale:
            raise Conflict("Le parcours a changé pendant la relance : réessayez.") from None
        steps.settle(instance, dossier, engine, result, passed, actor=actor)
    instance.reload()
    return instance
