"""Moving a running instance to a newer version of its pathway (issue 5).

SpiffWorkflow aligns the two specs (by BPMN id, else by position) and re-points each task of
the instance at its new spec; the admin is told, in French, why an instance cannot move.
"""

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow

from app.engine import runtime as runtime_module


def migrate(runtime, state, target):
    """Move an instance of `runtime` onto the Runtime `target` (a newer version): (Instance, [])
    when the engine finds it safe, (None, reasons in French) when it does not.

    Safe means every step the instance has been through, waits on or has predicted still
    exists in the new version (matched by BPMN id, or by position when renamed), and so does every
    subprocess it is in. Waiting and ready steps whose definition changed are predicted
    again from the new version (their engine ids change)."""
    workflow = runtime.restore(state)._wf
    try:
        top, subprocesses = diff_workflow(
            runtime_module._REGISTRY, workflow, target.spec, target.subprocess_specs
        )
    except Exception as err:  # a spec SpiffWorkflow cannot compare
        return None, [f"Versions impossibles à comparer ({err})."]
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
    if reasons:
        return None, list(reasons.values())
    migrate_workflow(top, workflow, target.spec)
    for sp_id, diff in subprocesses.items():
        sub = workflow.subprocesses[sp_id]
        migrate_workflow(diff, sub, target.subprocess_specs[sub.spec.name])
    workflow.subprocess_specs = target.subprocess_specs
    engine = runtime_module._Engine(target)
    workflow.script_engine = engine
    migrated = runtime_module.Instance(target, workflow, engine)
    target.restore(migrated.dump())  # the new state must load with the new version
    return migrated, []
