"""Pathway engine benchmark: what completing a task costs, and whether it grows with history.

Run: .venv/bin/python tests/perf/engine_bench.py [--passes 300]

On one throw-away embedded SecantusDB server, with a loop pathway (merge gateway -> user task
-> intermediate event -> exclusive gateway "continuer ?" -> back to the merge):
- the raw SpiffWorkflow floor: restore the state -> complete the user task -> dump, in-process;
- the full completion through the API test client (`POST /api/v1/tasks/{id}/complete`): token,
  access checks, form validation, engine step, state write with its revision check, entry,
  timeline, history, tasks, audit;
- their ratio (issue 5 target: full within 5x the floor) and the MongoDB round trips of one
  completion (target <= 8), listed by collection;
- completions #1-10 against the last ten of the loop (target: within 1.5x) and the size of the
  instance document as the loop goes.
Prints numbers; asserts nothing.
"""

import argparse
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from pymongo import monitoring

from app.db import CommandCounter

COMMANDS = CommandCounter()
monitoring.register(COMMANDS)

from app import create_app, policy  # noqa: E402 - after the listener, on purpose
from app.accounts.services import create_token, create_user  # noqa: E402
from app.dossiers.services import create_dossier  # noqa: E402
from app.embedded import EmbeddedServer  # noqa: E402
from app.engine.runtime import Runtime  # noqa: E402
from app.formkit.services import create_form  # noqa: E402
from app.pathways.models import PathwayInstance, PathwayVersion, Task  # noqa: E402
from app.pathways.services import deploy  # noqa: E402
from app.structures.services import create_structure  # noqa: E402

FORM = {
    "key": "bench_revue",
    "title": "Revue périodique (banc d'essai)",
    "category": "social",
    "schema": {
        "type": "object",
        "required": ["continuer"],
        "properties": {
            "continuer": {"type": "boolean", "title": "Continuer le suivi"},
            "commentaire": {"type": "string", "title": "Commentaire", "maxLength": 500},
        },
    },
}
LOOP = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs"
  targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="bench_boucle" name="Boucle de revue" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane" name="coordinateur">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>merge</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>revue</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>noted</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>again</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="merge"/>
    <bpmn:exclusiveGateway id="merge"/>
    <bpmn:sequenceFlow id="f2" sourceRef="merge" targetRef="revue"/>
    <bpmn:userTask id="revue" name="Revue">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="bench_revue"/>
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="revue" targetRef="noted"/>
    <bpmn:intermediateThrowEvent id="noted" name="Revue notée"/>
    <bpmn:sequenceFlow id="f4" sourceRef="noted" targetRef="again"/>
    <bpmn:exclusiveGateway id="again" name="Continuer ?" default="f_end"/>
    <bpmn:sequenceFlow id="f_loop" sourceRef="again" targetRef="merge">
      <bpmn:conditionExpression>bench_revue["continuer"]</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_end" sourceRef="again" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""
DATA = {"continuer": True, "commentaire": "Situation stable."}


def median_ms(values):
    return statistics.median(values) * 1000


def seed():
    structure = create_structure(
        policy.SYSTEM,
        {"key": "dac-bench", "name": "DAC banc", "sector": "medico_social", "kind": "dac"},
    )
    coordinator = create_user(
        policy.SYSTEM,
        {
            "email": "coord@bench.example",
            "name": "Coordinatrice",
            "password": "Banc-d-essai-2026!",
            "profession": "coordinateur",
            "memberships": [{"structure": structure.key, "roles": ["coordinator"]}],
        },
    )
    create_form(policy.SYSTEM, FORM)
    deploy(policy.SYSTEM, LOOP.encode())
    _, token = create_token(policy.SYSTEM, coordinator, {"name": "bench"})
    return structure, coordinator, token


def floor(version, state, runs=50):
    """Restore -> complete the ready user task -> dump, in-process: SpiffWorkflow's own cost."""
    runtime = Runtime.for_version(version)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        engine = runtime.restore(state)
        [task] = engine.ready_user_tasks()
        engine.complete(task["id"], "bench_revue", DATA)
        engine.dump()
        timings.append(time.perf_counter() - started)
    return timings


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passes", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server = EmbeddedServer.start(Path(folder) / "db", Path(folder) / "log")
        try:
            app = create_app({"MONGODB_URI": server.uri_for("bench"), "SECRET_KEY": "bench"})
            with app.app_context():
                run(app, args.passes)
        finally:
            server.stop()


def run(app, passes):
    structure, coordinator, token = seed()
    dossier = create_dossier(
        coordinator,
        {
            "identity": {"birth_name": "Banc", "first_names": "Essai", "birth_date": "1940-01-01",
                         "sex": "F"},
            "consent": {"mode": "oral", "date": "2026-01-05"},
            "structure": structure.key,
            "confirm_new": True,
        },
    )  # fmt: skip
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    started = client.post(
        f"/api/v1/dossiers/{dossier.id}/pathways", json={"pathway": "bench_boucle"}, headers=headers
    )
    instance_id = started.json["instance"]
    version = PathwayVersion.objects.get(pathway="bench_boucle")
    timings, commands, sizes, floors = [], [], {}, {}
    for number in range(1, passes + 1):
        task = Task.objects.get(instance=instance_id, status="open")
        if number in (1, passes):
            state = PathwayInstance.objects.get(id=instance_id).state
            floors[number] = floor(version, state)
        COMMANDS.reset()
        begun = time.perf_counter()
        done = client.post(
            f"/api/v1/tasks/{task.id}/complete", json={"data": DATA}, headers=headers
        )
        timings.append(time.perf_counter() - begun)
        commands.append(list(COMMANDS.targets))
        if done.status_code != 200:
            print(f"completion #{number} failed: {done.status_code} {done.json}")
            return
        if number in (1, 10, 100, passes // 2, passes):
            sizes[number] = len(PathwayInstance.objects.get(id=instance_id).state)
    first, last = timings[:10], timings[-10:]
    print(f"Loop pathway, {passes} passes (4 elements per pass), one instance")
    print(f"raw SpiffWorkflow floor, pass 1:   median {median_ms(floors[1]):7.2f} ms")
    print(f"raw SpiffWorkflow floor, pass {passes}: median {median_ms(floors[passes]):7.2f} ms")
    print(f"full API completion #1-10:        median {median_ms(first):7.2f} ms")
    print(f"full API completion #{passes - 9}-{passes}:    median {median_ms(last):7.2f} ms")
    ratio = median_ms(first) / median_ms(floors[1])
    print(f"full / floor (first passes):      {ratio:5.1f}x   (target <= 5x)")
    growth = median_ms(last) / median_ms(first)
    print(f"last ten / first ten:             {growth:5.2f}x  (target <= 1.5x)")
    print(f"round trips per completion:       {len(commands[4])}  (target <= 8)")
    for target, count in Counter(commands[4]).most_common():
        print(f"    {count} x {target}")
    for number, size in sizes.items():
        print(f"instance state after {number:4d} completions: {size / 1024:8.1f} KiB")


if __name__ == "__main__":
    main()
