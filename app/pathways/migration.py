"""Moving running instances to the newest version of their pathway, when the engine finds it
safe; otherwise they keep their version and the admin reads why."""

from app import audit, policy
from app.dossiers.services import object_id
from app.engine.migration import migrate
from app.engine.runtime import EngineError, Runtime
from app.errors import Conflict
from app.pathways import services, steps
from app.pathways.models import PathwayInstance, PathwayStep, PathwayVersion, Task
from app.structures.services import owner_of
from app.validation import InvalidInput

OPEN = ["running", "waiting", "error"]


def _older_instances(pathway, target, ids=None):
    found = PathwayInstance.objects(
        pathway=pathway.key, status__in=OPEN, version__lt=target.version
    )
    if ids is not None:
        found = found.filter(id__in=ids)
    return list(found.order_by("started_at"))


def _runtime(version):
    """The Runtime of a version, or the EngineError saying why it does not load (deployed
    before a check that now refuses it)."""
    try:
        return Runtime.for_version(version)
    except EngineError as error:
        return error


def _runtimes(pathway, instances):
    numbers = {i.version for i in instances}
    versions = PathwayVersion.objects(pathway=pathway.key, version__in=list(numbers))
    return {v.version: _runtime(v) for v in versions}


def _checked(actor, key, number, ids):
    """(pathway, target version, [(instance, migrated engine or None, reasons)])."""
    if ids is not None:
        oids = [object_id(i) for i in ids]
        wrong = {f"/instances/{n}": "Identifiant invalide." for n, o in enumerate(oids) if not o}
        if wrong:
            raise InvalidInput(wrong)
        ids = oids
    pathway, target = services.get_version(actor, key, number)
    policy.require(actor, "pathway.manage", owner_of(pathway))
    instances = _older_instances(pathway, target, ids)
    runtimes, new = _runtimes(pathway, instances), _runtime(target)
    if isinstance(new, EngineError):
        raise Conflict(f"La version {target.version} ne peut pas être exécutée : {new.message}")
    checked = []
    for instance in instances:
        try:
            old = runtimes[instance.version]
            if isinstance(old, EngineError):
                raise old
            engine, reasons = migrate(old, instance.state, new)
        except EngineError as error:
            engine, reasons = None, [error.message]
        checked.append((instance, engine, reasons))
    return pathway, target, checked


def plan(actor, key, number=None, ids=None):
    """[(instance, reasons)] for the open instances of older versions: no reason, safe."""
    pathway, target, checked = _checked(actor, key, number, ids)
    return pathway, target, [(instance, reasons) for instance, _, reasons in checked]


def migrate_instances(actor, key, number=None, ids=None):
    """Move every safe instance (of `ids`, or all) to version `number` (default: latest).
    Returns (moved instances, [(instance, reasons)] of those left on their version)."""
    pathway, target, checked = _checked(actor, key, number, ids)
    moved, refused = [], []
    for instance, engine, reasons in checked:
        if engine is None:
            refused.append((instance, reasons))
        elif _write(actor, instance, engine, target):
            moved.append(instance)
        else:
            refused.append((instance, ["Le parcours a avancé pendant la migration : réessayez."]))
    audit.record(
        actor,
        "pathway.migrate",
        pathway,
        version=target.version,
        moved=[str(i.id) for i in moved],
        refused=[str(i.id) for i, _ in refused],
    )
    return moved, refused


def _write(actor, instance, engine, target):
    written = PathwayInstance.objects(id=instance.id, revision=instance.revision).update_one(
        set__state=engine.dump(),
        set__version=target.version,
        set__name=target.name,
        set__next_timer_at=engine.next_timer_at(),
        inc__revision=1,
    )
    if not written:
        return False
    instance.reload()
    _carry_tasks_over(instance, engine)
    steps.sync_tasks(instance, engine, steps.dossier_of(instance))
    PathwayStep(
        instance=instance.id,
        dossier=instance.dossier,
        kind="migrate",
        actor=actor.id,
        detail=str(target.version),
    ).save()
    return True


def _carry_tasks_over(instance, engine):
    """A step predicted again by the migration keeps its Task (and whoever holds it)."""
    ready = {task["id"]: task["spec"] for task in engine.ready_user_tasks()}
    open_tasks = list(Task.objects(instance=instance.id, status="open"))
    known = {task.engine_id for task in open_tasks}
    free = [(engine_id, spec) for engine_id, spec in ready.items() if engine_id not in known]
    for task in open_tasks:
        if task.engine_id in ready:
            continue
        match = next((pair for pair in free if pair[1] == task.spec), None)
        if match is not None:
            free.remove(match)
            Task.objects(id=task.id).update_one(set__engine_id=match[0])
