"""A step of a pathway is written all or nothing (issue 19): a serving process killed at any
point of a start or a completion leaves the instance untouched or fully advanced, and it goes
on; two tasks of parallel branches completed at the same moment both succeed."""

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pymongo
import pytest
from helpers import snapshot
from test_engine_parser import HEAD, TAIL, form_key
from test_pathway_instances import EVALUATION, world  # noqa: F401
from test_pathway_tasks import first_step, unrouted  # noqa: F401

from app import db, policy
from app.audit import AuditEvent
from app.dossiers.models import Entry
from app.embedded import free_port
from app.pathways import instances, steps
from app.pathways.models import PathwayInstance, PathwayStep, Task
from app.pathways.services import deploy

EVERYTHING = (
    "pathway_instances", "pathway_steps", "tasks", "task_tallies", "entries", "timeline",
    "audit_events", "audit_tip", "notifications", "dossiers",
)  # fmt: skip
EVALUATE = form_key("evaluation_multidimensionnelle")
PARALLEL = (
    HEAD
    + f"""  <bpmn:process id="parallele" name="Deux évaluations" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_coord" name="coordinateur">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>fork</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>a</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>b</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>join</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>c</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork"/>
    <bpmn:parallelGateway id="fork"/>
    <bpmn:sequenceFlow id="fa" sourceRef="fork" targetRef="a"/>
    <bpmn:sequenceFlow id="fb" sourceRef="fork" targetRef="b"/>
    <bpmn:userTask id="a" name="Évaluation A">{EVALUATE}</bpmn:userTask>
    <bpmn:userTask id="b" name="Évaluation B">{EVALUATE}</bpmn:userTask>
    <bpmn:sequenceFlow id="fa2" sourceRef="a" targetRef="join"/>
    <bpmn:sequenceFlow id="fb2" sourceRef="b" targetRef="join"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:sequenceFlow id="f2" sourceRef="join" targetRef="c"/>
    <bpmn:userTask id="c" name="Synthèse">{EVALUATE}</bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="c" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
"""
    + TAIL
).encode()

# The app served by a process of its own, which the test hook kills (tests/test_cli.py runs
# `parcours run`; this one reuses the test's database and settings, and starts in a second).
SERVE = """
import json, os, sys
from werkzeug.serving import make_server
from app import create_app
app = create_app(json.loads(os.environ["CRASH_TEST_CONFIG"]))
server = make_server("127.0.0.1", int(sys.argv[1]), app, threaded=True)
print("ready", flush=True)
server.serve_forever()
"""


@pytest.fixture
def parallel(world):  # noqa: F811
    deploy(policy.SYSTEM, PARALLEL)
    return world[0]


def start(api, dossier):
    answer = api.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "parallele"})
    assert answer.status_code == 201, answer.json
    return answer.json["instance"]


def open_tasks(instance):
    return {t.spec: t for t in Task.objects(instance=instance, status="open")}


def complete(api, task):
    done = api.post(f"/tasks/{task.id}/complete", json={"data": EVALUATION})
    assert done.status_code == 200, done.json


def killed_at(point, app_config, api, url, body, *, drop=True):
    """POST `body` to `url` on a process of its own told to die at `point`; its exit status.
    `drop`: the dead process's transaction is dropped at once (else the server does, at 60 s)."""
    port = free_port()
    env = {**os.environ, "PARCOURS_CRASH_AT": point, "CRASH_TEST_CONFIG": json.dumps(app_config)}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout.readline().strip() == "ready", server.communicate(timeout=30)[0]
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"http://127.0.0.1:{port}/api/v1{url}",
            data=json.dumps(body).encode(),
            headers={**api.headers, "Content-Type": "application/json"},
        )
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(request, timeout=30)  # noqa: S310 - it dies before answering
        status = server.wait(timeout=30)
        if drop:
            drop_dead_transactions(app_config)
        return status
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        server.stdout.close()


def drop_dead_transactions(app_config):
    """What the server does 60 s after a process died in a transaction (SecantusDB and mongod
    alike): abort it, freeing the documents it wrote."""
    with pymongo.MongoClient(app_config["MONGODB_URI"]) as client:
        client.admin.command("killAllSessions", [])


@pytest.mark.parametrize("point", steps.CRASH_POINTS)
def test_a_completion_killed_at_any_point_is_all_or_nothing_and_goes_on(
    point, app_config, api_as, coordinator, parallel
):
    coord = api_as(coordinator)
    instance = start(coord, parallel)
    first = open_tasks(instance)["a"]
    before = snapshot(EVERYTHING)

    url = f"/tasks/{first.id}/complete"
    assert killed_at(point, app_config, coord, url, {"data": EVALUATION}) == 137

    if point != "committed":  # untouched: state, entry, task, history, tallies, audit
        assert snapshot(EVERYTHING) == before
        complete(coord, first)  # the same completion, again
    else:  # fully advanced, though it never answered
        first.reload()
        assert (first.status, first.completed_by) == ("completed", coordinator.id)
        assert Entry.objects(id=first.entry).count() == 1
        assert AuditEvent.objects(action="task.complete", object_id=str(first.id)).count() == 1
        assert PathwayStep.objects(instance=instance, spec="a", task=first.id).count() == 1
    assert set(open_tasks(instance)) == {"b"}
    complete(coord, open_tasks(instance)["b"])
    complete(coord, open_tasks(instance)["c"])
    assert PathwayInstance.objects.get(id=instance).status == "completed"
    assert Entry.objects(dossier=parallel.id).count() == 3
    assert AuditEvent.objects(action="task.complete").count() == 3


START_POINTS = ("state", "history", "tasks", "audit", "committed")


@pytest.mark.parametrize("point", START_POINTS)
def test_a_start_killed_at_any_point_is_all_or_nothing(
    point, app_config, api_as, coordinator, parallel
):
    coord = api_as(coordinator)
    assert coord.get("/tasks").status_code == 200  # what a first request writes, written
    before = snapshot(EVERYTHING)

    url = f"/dossiers/{parallel.id}/pathways"
    assert killed_at(point, app_config, coord, url, {"pathway": "parallele"}) == 137

    if point != "committed":
        assert snapshot(EVERYTHING) == before  # no instance without its tasks or audit
        instance = start(coord, parallel)
    else:
        [instance] = [str(i.id) for i in PathwayInstance.objects(pathway="parallele")]
        assert AuditEvent.objects(action="pathway.start", object_id=instance).count() == 1
    assert set(open_tasks(instance)) == {"a", "b"}
    complete(coord, open_tasks(instance)["a"])
    assert set(open_tasks(instance)) == {"b"}


def test_two_parallel_branches_completed_at_once_both_succeed(app, api_as, coordinator, parallel):
    """The second completion to write finds a newer revision: it runs again on it (neither a
    409 "déjà faite par quelqu'un d'autre" nor a 500 from a task created twice)."""
    coord = api_as(coordinator)
    clients = {"a": api_as(coordinator), "b": api_as(coordinator)}
    for _ in range(3):
        instance = start(coord, parallel)
        tasks = open_tasks(instance)
        answers, barrier = [], threading.Barrier(2)

        def finish(spec, tasks=tasks, answers=answers, barrier=barrier):
            with app.app_context():
                barrier.wait()
                url = f"/tasks/{tasks[spec].id}/complete"
                answers.append(clients[spec].post(url, json={"data": EVALUATION}))

        threads = [threading.Thread(target=finish, args=(spec,)) for spec in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [a.status_code for a in answers] == [200, 200], [a.json for a in answers]
        assert set(open_tasks(instance)) == {"c"}
        for spec in ("a", "b"):
            task = Task.objects.get(id=tasks[spec].id)
            assert task.status == "completed"
            assert task.entry is not None
            assert AuditEvent.objects(action="task.complete", object_id=str(task.id)).count() == 1
        complete(coord, open_tasks(instance)["c"])
        assert PathwayInstance.objects.get(id=instance).status == "completed"


def test_a_step_waiting_for_a_dead_transaction_answers_409_then_goes_on(
    app_config, api_as, coordinator, parallel, monkeypatch
):
    """Until the server drops the dead process's transaction, a step on the same instance
    waits TRANSACTION_PATIENCE, then answers 409 "réessayez" (never a 500) with nothing kept."""
    monkeypatch.setattr(db, "TRANSACTION_PATIENCE", 0.5)
    coord = api_as(coordinator)
    instance = start(coord, parallel)
    tasks = open_tasks(instance)
    url = f"/tasks/{tasks['a'].id}/complete"
    assert killed_at("state", app_config, coord, url, {"data": EVALUATION}, drop=False) == 137
    before = snapshot(EVERYTHING)

    busy = coord.post(f"/tasks/{tasks['b'].id}/complete", json={"data": EVALUATION})
    assert busy.status_code == 409
    assert busy.json["error"]["message"] == db.BUSY
    assert snapshot(EVERYTHING) == before

    drop_dead_transactions(app_config)
    complete(coord, tasks["b"])
    complete(coord, tasks["a"])
    assert set(open_tasks(instance)) == {"c"}


def test_a_claim_that_fails_half_way_leaves_the_task_free(
    api_as,
    coordinator,
    unrouted,  # noqa: F811
    monkeypatch,
):
    """The take, the circle, the history and the audit are one transaction (the task was
    taken, then 500 with neither history nor audit event)."""
    dossier, (doctor, _) = unrouted
    first_step(api_as(coordinator), dossier)
    candidate = api_as(doctor)
    [offered] = candidate.get("/tasks?scope=available").json["items"]

    def broken(*args, **kwargs):
        raise RuntimeError("panne en cours de route")

    before = snapshot(EVERYTHING)
    with monkeypatch.context() as patched:
        patched.setattr(instances.circle, "join_for_task", broken)
        with pytest.raises(RuntimeError):
            candidate.post(f"/tasks/{offered['id']}/claim")
    assert snapshot(EVERYTHING) == before
    assert candidate.post(f"/tasks/{offered['id']}/claim").status_code == 200
    assert AuditEvent.objects(action="task.claim", object_id=offered["id"]).count() == 1
