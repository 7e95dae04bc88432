"""Long-running pathways through the API (issue 9): 1,000 passes of a loop, of a loop with a
monthly timer driven by the worker, of a loop around a call activity; the history stays whole;
failures and races inside a long loop."""

import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from dossier_helpers import new_dossier
from test_engine_longrun import CALLED, LOOP

from app import clock, policy
from app.dossiers.models import Entry, TimelineItem
from app.formkit.services import create_form, sync_directory
from app.pathways.models import PathwayInstance, PathwayStep, Task
from app.pathways.services import deploy
from app.pathways.worker import fire_due_timers

# 1,000 passes through the API take minutes (the monthly loop: a completion and a worker round
# per pass): the suite runs them past the stock engine's stop (pass 251);
# PARCOURS_LONGRUN_PASSES=1000 runs the full length (measured in tests/perf/longrun_bench.py).
PASSES = int(os.environ.get("PARCOURS_LONGRUN_PASSES", "260"))
REVUE = {
    "key": "revue",
    "title": "Revue",
    "category": "social",
    "schema": {
        "type": "object",
        "required": ["continuer"],
        "properties": {
            "continuer": {"type": "boolean", "title": "Continuer"},
            "n": {"type": "integer", "title": "Passage"},
            "raison": {"type": "string", "title": "Raison", "maxLength": 200},
        },
    },
}
# Each pass: the review, then a month's wait (the worker fires it), then the decision.
MONTHLY = LOOP.replace('id="boucle"', 'id="boucle_mensuelle"').replace(
    '<bpmn:intermediateThrowEvent id="noted"/>',
    '<bpmn:intermediateCatchEvent id="noted"><bpmn:timerEventDefinition id="mois">'
    '<bpmn:timeDuration>"P1M"</bpmn:timeDuration></bpmn:timerEventDefinition>'
    "</bpmn:intermediateCatchEvent>",
)


@pytest.fixture
def loops(app, coordinator, structure):
    sync_directory(Path(app.root_path).parent / "forms")
    create_form(policy.SYSTEM, REVUE)
    for bpmn in (LOOP, MONTHLY, CALLED):
        deploy(policy.SYSTEM, bpmn.encode())
    return new_dossier(coordinator, structure)


def start(api, dossier, key):
    started = api.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": key})
    assert started.status_code == 201, started.json
    return started.json["instance"]


def complete(api, instance, data):
    task = Task.objects.only("id").get(instance=instance, status="open")
    done = api.post(f"/tasks/{task.id}/complete", json={"data": data})
    assert done.status_code == 200, done.json
    return task


def assert_bounded_and_whole(instance_id, passes):
    instance = PathwayInstance.objects.get(id=instance_id)
    assert instance.status == "completed"
    assert len(instance.state) < 20_000  # not growing with the passes
    # Nothing of the history is lost: every submission, every step, who did it.
    assert Entry.objects(form="revue").count() == passes
    reviews = PathwayStep.objects(instance=instance.id, spec="revue", kind="element")
    assert reviews.count() == passes
    assert Task.objects(instance=instance.id, status="completed").count() == passes


@pytest.mark.parametrize("key", ["boucle", "boucle_appel"])
def test_long_loops_through_the_api(api_as, coordinator, loops, key):
    coord = api_as(coordinator)
    instance = start(coord, loops, key)
    for n in range(PASSES):
        complete(coord, instance, {"continuer": n < PASSES - 1, "n": n})
    assert_bounded_and_whole(instance, PASSES)
    kinds = [i.kind for i in TimelineItem.objects(dossier=loops.id).only("kind")]
    assert kinds.count("entry") == PASSES


def test_monthly_reviews_driven_by_the_worker(api_as, coordinator, loops):
    coord = api_as(coordinator)
    instance = start(coord, loops, "boucle_mensuelle")
    for n in range(PASSES):
        complete(coord, instance, {"continuer": n < PASSES - 1, "n": n})
        assert PathwayInstance.objects.get(id=instance).status == "waiting"
        # A month later (the worker's clock), the decision, then the next review.
        assert fire_due_timers(clock.utcnow() + timedelta(days=32)) == 1
    assert_bounded_and_whole(instance, PASSES)
    months = PathwayStep.objects(instance=instance, spec="noted", kind="element").count()
    assert months == PASSES


def test_an_exit_condition_that_fails_is_retried_once_fixed(
    api_as, coordinator, platform_admin, loops
):
    """The exit reads a field the form does not require: a failing pass puts the instance in
    error; a corrected version, migrated, then a retry, and the loop goes on."""
    broken = LOOP.replace('id="boucle"', 'id="boucle_fragile"').replace(
        'revue["continuer"]', 'revue["continuer"] or revue["raison"] != ""'
    )
    deploy(policy.SYSTEM, broken.encode())
    coord, admin = api_as(coordinator), api_as(platform_admin)
    instance = start(coord, loops, "boucle_fragile")
    for n in range(10):
        complete(coord, instance, {"continuer": True, "n": n})
    task = Task.objects.get(instance=instance, status="open")
    failed = coord.post(f"/tasks/{task.id}/complete", json={"data": {"continuer": False}})
    assert failed.status_code == 422
    assert "Clé absente : 'raison'" in failed.json["error"]["message"]
    assert PathwayInstance.objects.get(id=instance).status == "error"
    assert admin.post(f"/instances/{instance}/retry").status_code == 422  # still broken
    deploy(policy.SYSTEM, broken.replace(' or revue["raison"] != ""', "").encode())
    moved = admin.post("/pathways/boucle_fragile/migrate", json={"instances": [instance]})
    assert moved.json["migrated"] == [instance], moved.json
    retried = admin.post(f"/instances/{instance}/retry")
    assert retried.status_code == 200, retried.json
    assert PathwayInstance.objects.get(id=instance).status == "completed"
    assert Entry.objects(form="revue").count() == 11  # the 11th submission kept, once


def test_a_completion_racing_another_after_many_passes_has_one_winner(
    app, api_as, coordinator, loops
):
    coord = api_as(coordinator)
    instance = start(coord, loops, "boucle")
    for n in range(20):  # the state is compacted at every pass
        complete(coord, instance, {"continuer": True, "n": n})
    task = Task.objects.get(instance=instance, status="open")
    answers, barrier = [], threading.Barrier(2)
    clients = {1000: api_as(coordinator), 2000: api_as(coordinator)}

    def finish(n):
        with app.app_context():
            barrier.wait()
            data = {"continuer": True, "n": n}
            answers.append(clients[n].post(f"/tasks/{task.id}/complete", json={"data": data}))

    threads = [threading.Thread(target=finish, args=(n,)) for n in (1000, 2000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert Entry.objects(form="revue").count() == 21
    assert Task.objects(instance=instance, status="open").count() == 1
    complete(coord, instance, {"continuer": False, "n": 21})
    assert PathwayInstance.objects.get(id=instance).status == "completed"
