"""Running instances move to a newer version when the engine finds it safe; otherwise they
stay on theirs and the admin reads why."""

import pytest
from test_engine_parser import changed
from test_pathway_instances import EVALUATION, VISIT, world  # noqa: F401
from test_pathways import BPMN

from app import policy
from app.pathways.models import PathwayInstance, PathwayStep, Task
from app.pathways.services import deploy

# Same steps, a new title and a due delay on the visit: safe.
RETITLED = changed(
    ('name="Visite à domicile"', 'name="Visite au domicile"'),
    text=BPMN.decode(),
).encode()
# The visit replaced by another step: not safe for whoever passed by it or predicts it.
REPLACED = RETITLED.replace(b'"visite"', b'"visite_bis"').replace(b">visite<", b">visite_bis<")


@pytest.fixture
def two_running(api_as, coordinator, world):  # noqa: F811
    """Two instances on version 1: one at the evaluation, one waiting for the GP's visit."""
    dossier, gp, _ = world
    coord = api_as(coordinator)
    ids = [
        coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"}).json[
            "instance"
        ]
        for _ in range(2)
    ]
    first = Task.objects.get(instance=ids[1])
    done = coord.post(f"/tasks/{first.id}/complete", json={"data": {**EVALUATION, "gir": 3}})
    assert done.status_code == 200
    return ids


def test_safe_instances_move_and_keep_their_tasks(api_as, platform_admin, world, two_running):  # noqa: F811
    _, gp, _ = world
    at_evaluation, at_visit = two_running
    visit = Task.objects.get(instance=at_visit, status="open")
    deploy(policy.SYSTEM, RETITLED)
    admin = api_as(platform_admin)
    planned = admin.get("/pathways/suivi_gir/migration").json
    assert planned["version"] == 2
    assert sorted(planned["safe"]) == sorted(two_running)
    assert planned["unsafe"] == []
    moved = admin.post("/pathways/suivi_gir/migrate", json={})
    assert moved.status_code == 200, moved.json
    assert sorted(moved.json["migrated"]) == sorted(two_running)
    assert [i.version for i in PathwayInstance.objects] == [2, 2]
    # The GP's task is the same task, still theirs, and completing it finishes the pathway.
    [still] = Task.objects(instance=at_visit, status="open")
    assert (still.id, still.assignee) == (visit.id, gp.id)
    done = api_as(gp).post(f"/tasks/{still.id}/complete", json={"data": VISIT})
    assert done.status_code == 200, done.json
    assert PathwayInstance.objects.get(id=at_visit).status == "completed"
    assert PathwayStep.objects(kind="migrate").count() == 2
    assert admin.post("/pathways/suivi_gir/migrate", json={}).json == {
        "migrated": [],
        "refused": [],
    }


def test_unsafe_instances_stay_and_say_why(api_as, platform_admin, two_running, login_as):
    deploy(policy.SYSTEM, REPLACED)
    admin = api_as(platform_admin)
    planned = admin.get("/pathways/suivi_gir/migration").json
    assert planned["safe"] == []
    reasons = {item["instance"]: item["reasons"] for item in planned["unsafe"]}
    assert set(reasons) == set(two_running)
    assert reasons[two_running[1]] == [
        "L'élément « Visite à domicile » (visite), par lequel ce parcours est passé ou qu'il "
        "prévoit, n'existe plus dans la version 2."
    ]
    before = [(i.version, i.revision, i.state) for i in PathwayInstance.objects]
    result = admin.post("/pathways/suivi_gir/migrate", json={"instances": two_running}).json
    assert result["migrated"] == []
    assert len(result["refused"]) == 2
    assert [(i.version, i.revision, i.state) for i in PathwayInstance.objects] == before
    page = login_as(platform_admin).get("/parcours/suivi_gir/migration").get_data(as_text=True)
    assert "ne peut pas passer" in page
    assert "Visite à domicile" in page


def test_the_page_migrates_the_chosen_instances(login_as, platform_admin, two_running):
    deploy(policy.SYSTEM, RETITLED)
    browser = login_as(platform_admin)
    page = browser.get("/parcours/suivi_gir/migration").get_data(as_text=True)
    assert page.count("— peut passer") == 2
    browser.post("/parcours/suivi_gir/migration", {"instance": two_running[0]})
    versions = {str(i.id): i.version for i in PathwayInstance.objects}
    assert versions == {two_running[0]: 2, two_running[1]: 1}


def test_only_pathway_managers_migrate(api_as, coordinator, login_as, two_running, platform_admin):
    deploy(policy.SYSTEM, RETITLED)
    coord = api_as(coordinator)
    assert coord.get("/pathways/suivi_gir/migration").status_code == 403
    assert coord.post("/pathways/suivi_gir/migrate", json={}).status_code == 403
    assert login_as(coordinator).get("/parcours/suivi_gir/migration").status_code == 403
    assert {i.version for i in PathwayInstance.objects} == {1}
    bad = api_as(platform_admin).post("/pathways/suivi_gir/migrate", json={"instances": ["x"]})
    assert (bad.status_code, list(bad.json["error"]["fields"])) == (422, ["/instances/0"])
