"""One step of a running pathway: load its state, run the engine, write only if unchanged.

Every change of an instance (a task completed, timers fired, a message caught, a retry) goes
through `run`: the state is written with a check on the revision it was read at, so two steps
at the same moment cannot both win; the loser gets `Stale` and keeps nothing. What the step
went through is then recorded as history rows (PathwayStep) and the tasks follow the engine.

A step the engine cannot finish (an expression error, a gateway with no way out, a failing
service, a loop beyond the step's budget) leaves the state as it was; the instance goes to
`error` with the French message and what to run again (`pending`), so that an administrator
can retry it once the cause is fixed. Whatever is written is audited before anything else can
fail.
"""

from flask import current_app, has_app_context

from app import audit, signals
from app.accounts.models import User
from app.clock import utcnow
from app.db import ImmutableCache
from app.dossiers import timeline
from app.dossiers.services import find
from app.engine import runtime as engine_runtime
from app.engine.iso8601 import duration_of
from app.engine.runtime import EngineError, Limits, Runtime, TaskNotReady
from app.errors import NotFound, ServiceError
from app.formkit.services import category_of
from app.pathways import tallies
from app.pathways.models import PathwayInstance, PathwayStep, PathwayVersion, Task
from app.pathways.routing import route_step


class Stale(Exception):
    """Another step wrote the instance after it was read: nothing of this one was kept."""


class PathwayFailed(ServiceError):
    """The engine could not run the step; the instance is in error, the step is kept."""

    status = 422
    code = "pathway_error"

    def __init__(self, error):
        super().__init__(
            f"{error.message.rstrip('.')}. Le parcours est en erreur : rien n'est perdu, un "
            "administrateur pourra relancer l'étape sans que rien ne soit ressaisi.",
            fields={"/pathway": error.message},
            extra={"element": error.element_id},
        )


_VERSIONS = ImmutableCache()


def engine_limits():
    """The engine's budget for one step, from the settings of the application running it."""
    if not has_app_context():
        return Limits()
    config = current_app.config
    return Limits(
        max_steps=config["ENGINE_MAX_STEPS"],
        max_seconds=config["ENGINE_MAX_SECONDS"],
        max_cardinality=config["ENGINE_MAX_CARDINALITY"],
    )


engine_runtime.limits = engine_limits


def dossier_of(instance):
    """The instance's dossier; None for a platform process (it has a subject instead)."""
    return find(instance.dossier) if instance.dossier is not None else None


def ref(dossier):
    """How audit events name the dossier a step is about."""
    return str(dossier.id) if dossier is not None else None


def version_of(instance):
    """The instance's deployed version (immutable: read once per process)."""
    version = _VERSIONS.get(
        ("pathway", instance.pathway, instance.version),
        lambda: PathwayVersion.objects(pathway=instance.pathway, version=instance.version).first(),
    )
    if version is None:
        raise NotFound("La version de ce parcours n'existe plus.")
    return version


def status_of(engine):
    if engine.is_completed():
        return "completed"
    return "running" if engine.ready_user_tasks() else "waiting"


def run(instance, operation, *, actor=None, pending=None, write_if=None):
    """Run `operation(engine)` and write the new state; returns (engine, result, passed).

    `passed` lists the BPMN elements the step went through; it is None when `write_if(result)`
    said there was nothing to write. Raises Stale if the instance moved meanwhile,
    PathwayFailed (after recording the error) if the engine failed."""
    version = version_of(instance)
    try:
        engine = Runtime.for_version(version).restore(instance.state)
        before = {element["id"] for element in engine.passed()}
        result = operation(engine)
    except TaskNotReady:
        raise
    except EngineError as error:
        fail(instance, error, actor, pending)
        raise PathwayFailed(error) from None
    if write_if is not None and not write_if(result):
        return engine, result, None
    status = status_of(engine)
    # What the step went through, read before the state is saved (saving drops the past).
    passed = [element for element in engine.passed() if element["id"] not in before]
    written = PathwayInstance.objects(id=instance.id, revision=instance.revision).update_one(
        set__state=engine.dump(),
        set__status=status,
        set__next_timer_at=engine.next_timer_at(),
        set__updated_at=utcnow(),
        unset__error=True,
        inc__revision=1,
    )
    if not written:
        raise Stale()
    instance.revision, instance.status, instance.error = instance.revision + 1, status, {}
    return engine, result, passed


RETRIES = 3  # a step that keeps meeting newer revisions is left for later


def apply(instance, dossier, operation, *, actor=None, pending=None, write_if=None, audit_as=None):
    """`run` then `settle`, reading the instance again when another step won the race; a
    written step is audited as `audit_as` (with the result's `fired` timers), if given.
    Returns the step's result, or None when nothing was written (failed: left in error)."""
    for _ in range(RETRIES):
        try:
            engine, result, passed = run(
                instance, operation, actor=actor, pending=pending, write_if=write_if
            )
        except Stale:
            instance.reload()
            continue
        except PathwayFailed:
            return None
        if passed is None:
            return None
        if audit_as is not None:
            details = {"fired": result["fired"]} if "fired" in result else {}
            audit.record(actor, audit_as, instance, dossier=ref(dossier), **details)
        settle(instance, dossier, engine, result, passed, actor=actor)
        return result
    return None


def create(actor, dossier, version, engine, subject=None):
    """Save a new instance that `engine` (started, maybe already moved) stands for: on
    `dossier`, or for a platform process on `subject` (dossier None)."""
    passed = engine.passed()  # before the state is saved: saving drops the past
    instance = PathwayInstance(
        dossier=dossier.id if dossier else None,
        subject=subject,
        structure=dossier.structure if dossier else None,
        pathway=version.pathway,
        version=version.version,
        name=version.name,
        status=status_of(engine),
        state=engine.dump(),
        next_timer_at=engine.next_timer_at(),
        started_by=audit.actor_id(actor),
    )
    instance.save(force_insert=True)
    audit.record(actor, "pathway.start", instance, dossier=ref(dossier), pathway=version.pathway)
    settle(instance, dossier, engine, engine.start_result, passed, actor=actor)
    if dossier is not None:
        timeline.append(actor, dossier, "pathway", f"Parcours « {version.name} » démarré")
    return instance


def fail(instance, error, actor=None, pending=None):
    """The instance goes to error, its state untouched (if nobody moved it meanwhile)."""
    details = {"message": error.message, "element": error.element_id, "at": utcnow()}
    if pending is not None:
        details["pending"] = pending
    moved = PathwayInstance.objects(id=instance.id, revision=instance.revision).update_one(
        set__status="error", set__error=details, inc__revision=1
    )
    if moved:
        PathwayStep(
            instance=instance.id,
            dossier=instance.dossier,
            kind="error",
            spec=error.element_id,
            actor=getattr(actor, "id", None),
            detail=error.message,
        ).save()
        audit.record(actor, "pathway.error", instance, element=error.element_id)


def settle(instance, dossier, engine, result, passed, *, actor=None, task=None, entry=None):
    """After a written step: its history, the tasks in step with the engine, the services."""
    rows = [
        PathwayStep(
            instance=instance.id,
            dossier=instance.dossier,
            spec=element["spec"],
            name=element["name"],
            element_type=element["type"],
            actor=getattr(actor, "id", None),
            task=task.id if task and element["spec"] == task.spec else None,
            entry=entry.id if entry and task and element["spec"] == task.spec else None,
        )
        for element in passed
    ]
    if rows:
        PathwayStep.objects.insert(rows, load_bulk=False)
    sync_tasks(instance, engine, dossier, actor)
    for call in result.get("service_calls", []):
        signals.service_called.send(instance, dossier=dossier, call=call)
    if instance.status == "completed":
        signals.pathway_completed.send(instance, dossier=dossier, data=engine.data())


def sync_tasks(instance, engine, dossier, actor=None):
    """Create a Task for every ready user task not yet materialised; cancel those the engine
    no longer offers (a branch taken elsewhere, a boundary event). `actor`: whose action made
    them ready (not told of what they just did)."""
    ready = {task["id"]: task for task in engine.ready_user_tasks()}
    known = {t.engine_id: t for t in Task.objects(instance=instance.id, status="open")}
    gone = [task.id for engine_id, task in known.items() if engine_id not in ready]
    if gone:
        Task.objects(id__in=gone, status="open").update(set__status="cancelled")
        tallies.closed([task for task in known.values() if task.id in gone])
    for engine_id, spec in ready.items():
        if engine_id in known:
            continue
        due = duration_of(spec["due_in"]) if spec.get("due_in") else None
        task = Task(
            instance=instance.id,
            dossier=dossier.id if dossier else None,
            engine_id=engine_id,
            spec=spec["spec"],
            title=spec["name"] or spec["spec"],
            form_key=spec["form_key"],
            care_role=spec["lane"],
            due_at=utcnow() + due if due else None,
            structure=instance.structure,
            pathway=instance.pathway,
            pathway_name=instance.name,
            **route_step(dossier, spec["lane"], category=category_of(spec["form_key"])),
        ).save()
        tallies.opened([task])
        signals.task_created.send(task, dossier=dossier, actor=actor)


def history(instance):
    """The instance's steps, oldest first, with the name of who did each one."""
    steps = list(PathwayStep.objects(instance=instance.id).order_by("at", "id"))
    names = dict(User.objects(id__in={s.actor for s in steps if s.actor}).scalar("id", "name"))
    return [(step, names.get(step.actor)) for step in steps]
