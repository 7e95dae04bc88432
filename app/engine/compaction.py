"""Keeping a long-running instance small: its finished past is dropped before each save.

Why: SpiffWorkflow keeps every task it ever ran in one tree. A pathway that loops (a review
every month for years) grows that tree by a few tasks per pass: the state to load and save at
every step grows with it, the step gets slower, and at a depth of 1,000 the task iterator stops
(no ready task after ~250 passes of a 4-element loop). History is not the engine's job here:
each step's elements are recorded in their own collection (PathwayStep) before the state is
saved, and form data lives in the dossier's entries.

How: before the state is written, each workflow (the process and each running subprocess) is
cut just above what is still going on. The anchor is the deepest task that is an ancestor of
every task still to run, waiting or predicted, and of every finished task those may still look
at: the split a structured join (boundary events, start events) will look for among its
ancestors, and the finished join tasks of other branches that a parallel or inclusive gateway
counts. Everything outside the anchor's subtree is dropped, and the anchor is re-attached to
the tree's root. The anchor holds the data accumulated so far (each task starts with a copy of
its parent's), so nothing the expressions can read is lost. Subprocesses whose task was
dropped (finished call activities) go too.

What is kept is what the engine can still reach; what it looks like to the engine is what a
stock run has in the same place, which the differential tests check pass by pass.
"""

from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.util.task import TaskState


def compact(workflow):
    """Drop the finished past of `workflow` (a BpmnWorkflow) and of its subprocesses."""
    for sub in [workflow, *workflow.subprocesses.values()]:
        _compact_one(sub)
    _drop_orphan_subprocesses(workflow)


def _ancestors(task):
    """The task and its ancestors, from the task up to the root."""
    chain = []
    while task is not None:
        chain.append(task)
        task = task.parent
    return chain


def _pinned(workflow, live):
    """The tasks the anchor must be above: those still going on, and the finished ones the
    joins among them will look at."""
    pinned = list(live)
    live_ids = {task.id for task in live}
    for task in live:
        split = getattr(task.task_spec, "split_task", None)
        if split:  # a structured join looks for its split among its ancestors
            found = task.find_ancestor(split)
            if found is not None:
                pinned.append(found)
    gateways = ParallelGateway | InclusiveGateway
    for join in [t for t in live if isinstance(t.task_spec, gateways)]:
        # A parallel or inclusive join counts the finished join tasks of the other branches
        # of its round: those below the previous round's join (an ancestor), if any.
        previous = join.parent
        while previous is not None and previous.task_spec != join.task_spec:
            previous = previous.parent
        for task in workflow.tasks.values():
            if (
                task.task_spec == join.task_spec
                and task.id not in live_ids
                and (previous is None or task.is_descendant_of(previous))
            ):
                pinned.append(task)
    return pinned


def _compact_one(workflow):
    root = workflow.task_tree
    live = [t for t in workflow.tasks.values() if not t.has_state(TaskState.FINISHED_MASK)]
    if root is None or not live:
        return
    chains = [list(reversed(_ancestors(task))) for task in _pinned(workflow, live)]
    anchor = None
    for column in zip(*chains, strict=False):  # the deepest common ancestor
        if any(task is not column[0] for task in column):
            break
        anchor = column[0]
    if anchor is not None and anchor.has_state(TaskState.PREDICTED_MASK):
        anchor = anchor.parent  # a predicted task has no data yet: keep its parent's
    if anchor is None or anchor is root or anchor.parent is root:
        return
    keep = {root.id}
    stack = [anchor]
    while stack:
        task = stack.pop()
        keep.add(task.id)
        stack.extend(task.children)
    anchor._parent = root.id
    root._children = [anchor.id]
    for task_id in [t for t in workflow.tasks if t not in keep]:
        del workflow.tasks[task_id]
    if workflow.last_task is not None and workflow.last_task.id not in keep:
        workflow.last_task = anchor


def _drop_orphan_subprocesses(workflow):
    """Subprocesses whose owning task is gone (finished long ago) go too."""
    while True:
        owners = set(workflow.tasks)
        for sub in workflow.subprocesses.values():
            owners.update(sub.tasks)
        orphans = [sp_id for sp_id in workflow.subprocesses if sp_id not in owners]
        if not orphans:
            return
        for sp_id in orphans:
            del workflow.subprocesses[sp_id]
