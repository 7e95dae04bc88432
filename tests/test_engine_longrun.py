"""Long-running loops (issue 9): the saved state keeps only what is still going on, so a loop
runs for ever at the same cost; and it behaves exactly as the stock engine does."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from app.engine.runtime import Runtime

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs"
  targetNamespace="http://bpmn.io/schema/bpmn">
"""


def form(key):
    return (
        "<bpmn:extensionElements><spiffworkflow:properties>"
        f'<spiffworkflow:property name="formKey" value="{key}"/>'
        "</spiffworkflow:properties></bpmn:extensionElements>"
    )


def lane(ids):
    refs = "".join(f"<bpmn:flowNodeRef>{i}</bpmn:flowNodeRef>" for i in ids)
    lanes = f'<bpmn:lane id="l" name="coordinateur">{refs}</bpmn:lane>'
    return f'<bpmn:laneSet id="ls">{lanes}</bpmn:laneSet>'


# merge gateway -> review -> intermediate event -> "again?" gateway -> back to the merge
LOOP_BODY = f"""
    <bpmn:exclusiveGateway id="merge"/>
    <bpmn:sequenceFlow id="f2" sourceRef="merge" targetRef="revue"/>
    <bpmn:userTask id="revue" name="Revue">{form("revue")}</bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="revue" targetRef="noted"/>
    <bpmn:intermediateThrowEvent id="noted"/>
    <bpmn:sequenceFlow id="f4" sourceRef="noted" targetRef="again"/>
    <bpmn:exclusiveGateway id="again" default="f_end"/>
    <bpmn:sequenceFlow id="f_loop" sourceRef="again" targetRef="merge">
      <bpmn:conditionExpression>revue["continuer"]</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_end" sourceRef="again" targetRef="end"/>
    <bpmn:endEvent id="end"/>
"""
LOOP = (
    HEAD
    + f"""<bpmn:process id="boucle" isExecutable="true">
    {lane(["start", "merge", "revue", "noted", "again", "end"])}
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="merge"/>
    {LOOP_BODY}
  </bpmn:process>
</bpmn:definitions>"""
)
# Each pass: two reviews in parallel, joined, then the decision; a reminder on one of them.
PARALLEL = (
    HEAD
    + f"""<bpmn:process id="boucle_parallele" isExecutable="true">
    {lane(["start", "merge", "split", "revue", "avis", "relance", "join", "again", "end"])}
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="merge"/>
    <bpmn:exclusiveGateway id="merge"/>
    <bpmn:sequenceFlow id="f2" sourceRef="merge" targetRef="split"/>
    <bpmn:parallelGateway id="split"/>
    <bpmn:sequenceFlow id="fa" sourceRef="split" targetRef="revue"/>
    <bpmn:sequenceFlow id="fb" sourceRef="split" targetRef="avis"/>
    <bpmn:userTask id="revue" name="Revue">{form("revue")}</bpmn:userTask>
    <bpmn:userTask id="avis" name="Avis">{form("avis")}</bpmn:userTask>
    <bpmn:boundaryEvent id="relance" attachedToRef="avis" cancelActivity="false">
      <bpmn:timerEventDefinition id="td"><bpmn:timeDuration>"P7D"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f_relance" sourceRef="relance" targetRef="fin_relance"/>
    <bpmn:endEvent id="fin_relance"/>
    <bpmn:sequenceFlow id="fa2" sourceRef="revue" targetRef="join"/>
    <bpmn:sequenceFlow id="fb2" sourceRef="avis" targetRef="join"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:sequenceFlow id="f4" sourceRef="join" targetRef="again"/>
    <bpmn:exclusiveGateway id="again" default="f_end"/>
    <bpmn:sequenceFlow id="f_loop" sourceRef="again" targetRef="merge">
      <bpmn:conditionExpression>revue["continuer"]</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_end" sourceRef="again" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""
)
# Each pass calls a subprocess that holds the review.
CALLED = (
    HEAD
    + f"""<bpmn:process id="boucle_appel" isExecutable="true">
    {lane(["start", "merge", "appel", "again", "end"])}
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="merge"/>
    <bpmn:exclusiveGateway id="merge"/>
    <bpmn:sequenceFlow id="f2" sourceRef="merge" targetRef="appel"/>
    <bpmn:callActivity id="appel" calledElement="revue_appelee"/>
    <bpmn:sequenceFlow id="f3" sourceRef="appel" targetRef="again"/>
    <bpmn:exclusiveGateway id="again" default="f_end"/>
    <bpmn:sequenceFlow id="f_loop" sourceRef="again" targetRef="merge">
      <bpmn:conditionExpression>revue["continuer"]</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_end" sourceRef="again" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
  <bpmn:process id="revue_appelee" isExecutable="true">
    {lane(["s2", "revue", "e2"]).replace('id="ls"', 'id="ls2"').replace('id="l"', 'id="l2"')}
    <bpmn:startEvent id="s2"/>
    <bpmn:sequenceFlow id="g1" sourceRef="s2" targetRef="revue"/>
    <bpmn:userTask id="revue" name="Revue">{form("revue")}</bpmn:userTask>
    <bpmn:sequenceFlow id="g2" sourceRef="revue" targetRef="e2"/>
    <bpmn:endEvent id="e2"/>
  </bpmn:process>
</bpmn:definitions>"""
)
PATHWAYS = {"boucle": LOOP, "boucle_parallele": PARALLEL, "boucle_appel": CALLED}
TASKS_PER_PASS = {"boucle": 1, "boucle_parallele": 2, "boucle_appel": 1}


def runtime(key):
    return Runtime.for_version(
        SimpleNamespace(pathway=key, version=1, bpmn=PATHWAYS[key], trusted=0)
    )


def answer(spec, n, go_on):
    """What the person types at pass n: the review decides, the opinion is free text."""
    if spec == "avis":
        return "avis", {"texte": f"avis {n}"}
    return "revue", {"continuer": go_on, "n": n}


def run_ours(key, decisions):
    """Our engine, state saved and read back at every step (as the services do): yields the
    ready specs and the data after each completion, and the size of each saved state."""
    engine = runtime(key)
    state = engine.start({}).dump()
    for n, go_on in enumerate(decisions):
        for _ in range(TASKS_PER_PASS[key]):
            instance = engine.restore(state)
            ready = sorted(instance.ready_user_tasks(), key=lambda t: t["spec"])
            if not ready:
                break
            task = ready[0]
            form_key, data = answer(task["spec"], n, go_on)
            instance.complete(task["id"], form_key, data)
            yield (
                (
                    sorted(t["spec"] for t in instance.ready_user_tasks()),
                    instance.data(),
                    instance.is_completed(),
                ),
                len(state := instance.dump()),
            )


def run_stock(key, decisions):
    """Plain SpiffWorkflow on the same spec and inputs: no state saved, nothing dropped."""
    spec = runtime(key)
    workflow = BpmnWorkflow(spec.spec, spec.subprocess_specs)
    workflow.do_engine_steps()

    def ready():
        tasks = workflow.get_tasks(state=TaskState.READY, manual=True)
        return sorted(tasks, key=lambda t: t.task_spec.bpmn_id)

    for n, go_on in enumerate(decisions):
        for _ in range(TASKS_PER_PASS[key]):
            tasks = ready()
            if not tasks:
                break
            form_key, data = answer(tasks[0].task_spec.bpmn_id, n, go_on)
            tasks[0].data[form_key] = data
            tasks[0].run()
            workflow.do_engine_steps()
            yield (
                sorted(t.task_spec.bpmn_id for t in ready()),
                _stock_data(workflow),
                workflow.is_completed(),
            )


def _stock_data(workflow):
    merged = {}
    reached = TaskState.COMPLETED | TaskState.READY | TaskState.WAITING | TaskState.STARTED
    for task in sorted(workflow.get_tasks(state=reached), key=lambda t: t.last_state_change):
        merged.update(task.data)
    merged.update(workflow.data)
    return merged


# The stock engine's parallel join walks the whole tree recursively: it slows down with every
# pass (20 s for 100 passes) and fails with a RecursionError before pass 200. It is compared
# on the passes it can run.
STOCK_PASSES = {"boucle": 200, "boucle_appel": 200, "boucle_parallele": 40}


@pytest.mark.parametrize("key", sorted(PATHWAYS))
def test_the_same_routing_and_data_as_the_stock_engine(key):
    passes = STOCK_PASSES[key]
    decisions = [True] * (passes - 1) + [False]
    ours = [step for step, _ in run_ours(key, decisions)]
    stock = list(run_stock(key, decisions))
    assert len(ours) == len(stock) == passes * TASKS_PER_PASS[key]
    for number, (mine, theirs) in enumerate(zip(ours, stock, strict=True)):
        assert mine == theirs, f"step {number}"
    assert ours[-1][2] is True  # the last review said stop: the pathway ended


@pytest.mark.parametrize("key", sorted(PATHWAYS))
def test_1000_passes_keep_the_state_small(key):
    sizes = [size for _, size in run_ours(key, [True] * 1000)]
    assert len(sizes) == 1000 * TASKS_PER_PASS[key]  # no stop at depth 1,000
    assert max(sizes[-50:]) <= max(sizes[10:20]) * 1.1  # bounded, not growing with the passes
    assert max(sizes) < 20_000


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    key=st.sampled_from(sorted(PATHWAYS)),
    decisions=st.lists(st.booleans(), min_size=1, max_size=25),
)
def test_any_number_of_passes_and_any_exit_behave_as_the_stock_engine(key, decisions):
    ours = [step for step, _ in run_ours(key, decisions)]
    assert ours == list(run_stock(key, decisions))


def test_a_reminder_inside_the_loop_still_fires_after_many_passes():
    """The boundary timer of the parallel pathway's opinion task, armed again at each pass."""
    engine = runtime("boucle_parallele")
    state = engine.start({}).dump()
    for n in range(300):
        for spec in ("avis", "revue"):
            instance = engine.restore(state)
            [task] = [t for t in instance.ready_user_tasks() if t["spec"] == spec]
            instance.complete(task["id"], *answer(spec, n, True))
            state = instance.dump()
    instance = engine.restore(state)
    due = instance.next_timer_at()
    assert due is not None
    fired = instance.fire_timers(due + timedelta(minutes=1))
    assert fired["fired"] == ["relance"]
    assert sorted(t["spec"] for t in instance.ready_user_tasks()) == ["avis", "revue"]
    assert datetime.now(UTC) < due + timedelta(days=8)
