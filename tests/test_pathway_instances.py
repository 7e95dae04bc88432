"""A pathway runs on a dossier: started by a coordinator, each step routed by its lane,
completed with its form (validated, stored as an entry), exactly once."""

from pathlib import Path

import pytest
from dossier_helpers import new_dossier
from helpers import snapshot
from test_pathways import BPMN

from app import policy
from app.dossiers import circle
from app.dossiers.models import Entry
from app.formkit.services import sync_directory
from app.pathways.models import PathwayInstance, Task
from app.pathways.services import deploy

EVALUATION = {
    "date_evaluation": "2026-11-27",
    "lieu_evaluation": "domicile",
    "gir": 2,
    "synthese": {"analyse": "Isolement, chutes."},
}
VISIT = {"date_visite": "2026-11-28", "objet_visite": "suivi", "personne_rencontree": True}
COLLECTIONS = ("pathway_instances", "tasks", "entries", "timeline")


@pytest.fixture
def world(app, coordinator, structure, make_user, other_structure):
    sync_directory(Path(app.root_path).parent / "forms")
    deploy(policy.SYSTEM, BPMN)
    dossier = new_dossier(coordinator, structure)
    gp = make_user(other_structure, profession="10", name="Dr Traitant")
    circle.add_member(coordinator, dossier, {"user": str(gp.id), "care_role": "medecin_traitant"})
    nurse = make_user(other_structure, profession="60")
    circle.add_member(coordinator, dossier, {"user": str(nurse.id), "care_role": "infirmier"})
    dossier.reload()
    return dossier, gp, nurse


def test_a_pathway_runs_from_start_to_end(api_as, coordinator, world):
    dossier, gp, _ = world
    coord = api_as(coordinator)
    started = coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    assert started.status_code == 201, started.json
    instance_id = started.json["instance"]
    [step] = coord.get("/tasks").json["items"]
    assert (step["title"], step["care_role"], step["form_key"]) == (
        "Évaluation multidimensionnelle",
        "coordinateur",
        "evaluation_multidimensionnelle",
    )
    assert step["due_at"] is not None
    shown = coord.get(f"/tasks/{step['id']}").json
    assert shown["form"]["key"] == "evaluation_multidimensionnelle"
    done = coord.post(f"/tasks/{step['id']}/complete", json={"data": EVALUATION})
    assert done.status_code == 200, done.json
    assert done.json["status"] == "completed"
    entry = Entry.objects.get(id=done.json["entry"])
    assert (entry.form, entry.data["gir"]) == ("evaluation_multidimensionnelle", 2)
    # The gateway (gir <= 2) notified, then the visit went to the member of the lane.
    gp_api = api_as(gp)
    [visit] = gp_api.get("/tasks").json["items"]
    assert (visit["title"], visit["assignee"]) == ("Visite à domicile", str(gp.id))
    assert gp_api.post(f"/tasks/{visit['id']}/complete", json={"data": VISIT}).status_code == 200
    instance = coord.get(f"/instances/{instance_id}").json
    assert instance["status"] == "completed"
    assert [t["status"] for t in instance["tasks"]] == ["completed", "completed"]
    kinds = [i["kind"] for i in coord.get(f"/dossiers/{dossier.id}/timeline").json["items"]]
    assert kinds[:3] == ["entry", "entry", "pathway"]


def test_who_may_not_open_an_entry_is_not_told_which_task_produced_it(
    api_as, coordinator, structure_admin, world
):
    """An admin of the coordinating structure sees a pathway's steps (to retry them), not the
    dossier: the entry a task produced is named only to who may open it."""
    dossier, gp, _ = world
    coord = api_as(coordinator)
    started = coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    [step] = coord.get("/tasks").json["items"]
    entry_id = coord.post(f"/tasks/{step['id']}/complete", json={"data": EVALUATION}).json["entry"]
    url = f"/instances/{started.json['instance']}"
    shown = api_as(structure_admin).get(url)
    assert shown.status_code == 200
    assert entry_id not in shown.get_data(as_text=True)
    assert [t["entry"] for t in shown.json["tasks"]] == [None, None]
    mine = coord.get(url).json
    assert mine["tasks"][0]["entry"] == entry_id
    assert entry_id in [s["entry"] for s in mine["steps"]]
    done = coord.get("/tasks?scope=followed&done=true").json["items"]
    assert entry_id in [t["entry"] for t in done]


def test_completing_twice_gives_409_naming_who_did_it(api_as, coordinator, world):
    dossier, *_ = world
    coord = api_as(coordinator)
    coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    [step] = coord.get("/tasks").json["items"]
    assert coord.post(f"/tasks/{step['id']}/complete", json={"data": EVALUATION}).status_code == 200
    before = snapshot(COLLECTIONS)
    again = coord.post(f"/tasks/{step['id']}/complete", json={"data": EVALUATION})
    assert again.status_code == 409
    assert "Coordinatrice" in again.json["error"]["message"]
    assert snapshot(COLLECTIONS) == before


def test_a_concurrent_completion_loses_and_leaves_nothing(api_as, coordinator, world, monkeypatch):
    """Another completion writes between this one's read of the state and its write."""
    from app.engine.runtime import Runtime

    dossier, *_ = world
    coord = api_as(coordinator)
    coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    [step] = coord.get("/tasks").json["items"]
    instance = PathwayInstance.objects.get()
    restore = Runtime.restore

    def restore_then_someone_else_writes(runtime, state):
        engine = restore(runtime, state)
        PathwayInstance.objects(id=instance.id).update_one(inc__revision=1)
        Task.objects(id=step["id"]).update_one(set__completed_by=coordinator.id)
        return engine

    monkeypatch.setattr(Runtime, "restore", restore_then_someone_else_writes)
    before = snapshot(("entries", "timeline"))
    lost = coord.post(f"/tasks/{step['id']}/complete", json={"data": EVALUATION})
    assert lost.status_code == 409
    assert "Coordinatrice" in lost.json["error"]["message"]
    # Nothing of the losing completion: no entry, no timeline item, the task left as it was.
    assert snapshot(("entries", "timeline")) == before
    task = Task.objects.get(id=step["id"])
    assert (task.status, task.entry) == ("open", None)


def test_invalid_form_data_is_refused_and_the_pathway_does_not_move(api_as, coordinator, world):
    dossier, *_ = world
    coord = api_as(coordinator)
    coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    [step] = coord.get("/tasks").json["items"]
    before = snapshot(COLLECTIONS)
    refused = coord.post(f"/tasks/{step['id']}/complete", json={"data": {**EVALUATION, "gir": 9}})
    assert refused.status_code == 422
    assert "/data/gir" in refused.json["error"]["fields"]
    assert snapshot(COLLECTIONS) == before


def test_who_may_start_see_and_complete(api_as, coordinator, world, make_user, structure):
    dossier, gp, nurse = world
    gp_api, outsider = api_as(gp), api_as(make_user(structure, profession="10"))
    assert (
        gp_api.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"}).status_code
        == 403
    )
    assert (
        outsider.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"}).status_code
        == 404
    )
    coord = api_as(coordinator)
    instance = coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"}).json[
        "instance"
    ]
    [step] = coord.get("/tasks").json["items"]
    # A member who is not assigned sees nothing of the task; a stranger neither.
    assert api_as(nurse).get(f"/tasks/{step['id']}").status_code == 404
    assert (
        api_as(nurse).post(f"/tasks/{step['id']}/complete", json={"data": EVALUATION}).status_code
        == 404
    )
    assert outsider.get(f"/instances/{instance}").status_code == 404
    assert api_as(nurse).get(f"/instances/{instance}").status_code == 200
    unknown = coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "inconnu"})
    assert unknown.status_code == 404


def test_a_task_of_a_dossier_one_left_is_refused(api_as, coordinator, world):
    dossier, gp, _ = world
    coord = api_as(coordinator)
    coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    [step] = coord.get("/tasks").json["items"]
    coord.post(f"/tasks/{step['id']}/complete", json={"data": EVALUATION})
    [visit] = api_as(gp).get("/tasks").json["items"]
    member = dossier.member_for(gp.id)
    coord.delete(f"/dossiers/{dossier.id}/members/{member.id}")
    assert (
        api_as(gp).post(f"/tasks/{visit['id']}/complete", json={"data": VISIT}).status_code == 404
    )


def test_withdrawing_consent_suspends_the_running_pathways(api_as, coordinator, world):
    dossier, gp, _ = world
    coord = api_as(coordinator)
    instance = coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"}).json[
        "instance"
    ]
    [step] = coord.get("/tasks").json["items"]
    withdrawn = coord.post(
        f"/dossiers/{dossier.id}/consent/withdraw",
        json={"date": "2026-03-01", "reason": "Ne souhaite plus"},
    )
    assert withdrawn.status_code == 200
    assert coord.get(f"/instances/{instance}").json["status"] == "suspended"
    refused = coord.post(f"/tasks/{step['id']}/complete", json={"data": EVALUATION})
    assert refused.status_code == 403
    assert Entry.objects(kind="form").count() == 0
