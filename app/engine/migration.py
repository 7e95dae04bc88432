"""Moving a running instance to a newer version of its pathway (issue 5).

SpiffWorkflow aligns the two specs (by BPMN id, else by position) and re-points each task of
the instance at its new spec; the admin is told, in French, why an instance cannot move.
"""

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from app.engine import runtime as runtime_module

# The steps a migration puts back on the new version's track: a step whose kind changed there
# (a user task become a subprocess…) cannot be taken up where the instance is.
LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def migrate(runtime, state, target):
    """Move an instance of `runtime` onto the Runtime `target` (a newer version): (Instance, [])
    when the engine finds it safe, (None, reasons in French) when it does not.

    Safe means every step the instance has been through, waits on or has predicted still
    exists in the new version (matched by BPMN id, or by position when renamed), and so does every
    subprocess it is in, with the same kind where the instance is. Waiting and ready steps
    whose definition changed are predicted again from the new version (their engine ids
    change). Whatever SpiffWorkflow raises on the way is a reason, not an error."""
    workflow = runtime.restore(state)._wf
    try:
        top, subprocesses = diff_workflow(
            runtime_module._REGISTRY, workflow, target.spec, target.subprocess_specs
        )
    except Exception as err:  # a spec SpiffWorkflow cannot compare
        return None, [f"Versions impossibles à comparer ({type(err).__name__})."]
    reasons = _reasons(workflow, top, subprocesses, target)
    if reasons:
        return None, reasons
    try:
        return _migrated(workflow, top, subprocesses, target), []
    except runtime_module.EngineError as error:
        return None, [error.message]
    except Exception as err:  # noqa: BLE001 - any failure of the engine refuses this instance
        task = getattr(err, "task", None)
        spec = task.task_spec if task is not None else None
        where = f" à l'élément « {spec.bpmn_name or spec.bpmn_id} »" if spec is not None else ""
        return None, [
            f"La version {target.version} ne peut pas reprendre ce parcours là où il en "
            f"est{where} ({type(err).__name__})."
        ]


def _reasons(workflow, top, subprocesses, target):
    """Why the instance cannot move (French), from the diffs of its workflows."""
    reasons, internal = {}, set()
    for diff in [top, *subprocesses.values()]:
        for task in diff.removed if diff else []:
            spec = task.task_spec
            if not spec.bpmn_id:  # a spec SpiffWorkflow adds around an element (a join…)
                internal.add(spec.name)
                continue
            reasons[spec.bpmn_id] = (
                f"L'élément « {spec.bpmn_name or spec.bpmn_id} » ({spec.bpmn_id}), par lequel ce "
                f"parcours est passé ou qu'il prévoit, n'existe plus dans la version "
                f"{target.version}."
            )
    if internal and not reasons:
        reasons["internal"] = (
            f"La structure du parcours a changé autour de : {', '.join(sorted(internal))}."
        )
    for sp_id, diff in subprocesses.items():
        if diff is None:
            name = workflow.subprocesses[sp_id].spec.name
            reasons[name] = f"Le sous-processus « {name} » n'existe plus dans la nouvelle version."
    for diff in [top, *subprocesses.values()]:
        for task, new_spec in diff.alignment.items() if diff else []:
            spec = task.task_spec
            if new_spec is None or not task.has_state(LIVE) or not spec.bpmn_id:
                continue
            if type(new_spec) is not type(spec):
                reasons[spec.bpmn_id] = (
                    f"L'élément « {spec.bpmn_name or spec.bpmn_id} » ({spec.bpmn_id}), où en est "
                    f"ce parcours, a changé de nature dans la version {target.version} : il ne "
                    "peut pas y être repris."
                )
    return list(reasons.values())


def _migrated(workflow, top, subprocesses, target):
    """The instance moved onto `target`, as the diffs say."""
    migrate_workflow(top, workflow, target.spec)
    for sp_id, diff in subprocesses.items():
        sub = workflow.subprocesses[sp_id]
        migrate_workflow(diff, sub, target.subprocess_specs[sub.spec.name])
    workflow.subprocess_specs = target.subprocess_specs
    engine = runtime_module._Engine(target)
    workflow.script_engine = engine
    migrated = runtime_module.Instance(target, workflow, engine)
    target.restore(migrated.dump())  # the new state must load with the new version
    return migrated
