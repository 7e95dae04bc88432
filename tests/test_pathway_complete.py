"""A completion is all or nothing (issue 18): every check runs before the engine state is
written; a step the engine cannot finish puts the instance in error (never a 500); deployment
refuses what could not run (a lane that may not write its forms, a generic task, unbounded
loops, too many instances); each step runs within a budget; what is written is audited."""

from pathlib import Path

import pytest
from helpers import html, snapshot
from test_engine_parser import changed
from test_pathway_instances import EVALUATION, VISIT, world  # noqa: F401
from test_pathways import BPMN

from app.formkit.services import sync_directory
from app.pathways.models import PathwayInstance, Task

EVERYTHING = (
    "pathway_instances", "pathway_steps", "tasks", "entries", "timeline", "audit_events",
    "notifications", "dossiers", "pathways", "pathway_versions",
)  # fmt: skip
NOTIFY = '<bpmn:serviceTask id="notify_doctor" name="Prévenir le médecin">'


@pytest.fixture(autouse=True)
def forms(app):
    sync_directory(Path(app.root_path).parent / "forms")


def variant(*replacements):
    """The test pathway (suivi_gir) with some text replaced."""
    return changed(*replacements, text=BPMN.decode()).encode()


def looping(characteristics):
    """suivi_gir whose notification (GIR <= 2) has these loop characteristics."""
    return variant((NOTIFY, NOTIFY + characteristics))


def evaluation_of(coord):
    [step] = [t for t in coord.get("/tasks").json["items"] if t["title"].startswith("Évaluation")]
    return step


def evaluate(coord, gir):
    """The coordinator completes the evaluation."""
    step = evaluation_of(coord)
    done = coord.post(f"/tasks/{step['id']}/complete", json={"data": {**EVALUATION, "gir": gir}})
    assert done.status_code == 200, done.json


def started(coord, dossier):
    answer = coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    assert answer.status_code == 201, answer.json
    return answer.json["instance"]


def medical_is_read_only_for_doctors(api_as, platform_admin):
    """The platform admin edits the matrix after deployment: doctors only read medical data."""
    admin = api_as(platform_admin)
    rules = admin.get("/habilitations").json
    rules["medical"]["medical"] = "read"
    assert admin.request("PUT", "/habilitations", json=rules).status_code == 200


# --- every check before the state is written -------------------------------------------------


def test_a_step_its_assignee_may_not_write_is_refused_and_changes_nothing(
    api_as,
    coordinator,
    world,  # noqa: F811
    platform_admin,
    login_as,
):
    dossier, gp, _ = world
    coord = api_as(coordinator)
    instance = started(coord, dossier)
    done = coord.post(f"/tasks/{evaluation_of(coord)['id']}/complete", json={"data": EVALUATION})
    assert done.status_code == 200
    gp_api, gp_web = api_as(gp), login_as(gp)
    [visit] = gp_api.get("/tasks").json["items"]
    medical_is_read_only_for_doctors(api_as, platform_admin)
    before = snapshot(EVERYTHING)
    refused = gp_api.post(f"/tasks/{visit['id']}/complete", json={"data": VISIT})
    assert refused.status_code == 403
    assert "habilité" in refused.json["error"]["message"]
    # The pathway did not move on (it would have completed), nothing was written.
    assert snapshot(EVERYTHING) == before
    assert PathwayInstance.objects.get(id=instance).status == "running"
    page = gp_web.post(f"/taches/{visit['id']}", {"date_visite": "2026-11-28"})
    assert page.status_code == 403
    assert snapshot(EVERYTHING) == before
    page = html(gp_web.get(f"/taches/{visit['id']}"))
    assert "Votre profession n&#39;est pas habilitée" in page
    assert "Terminer l&#39;étape" not in page
    # The coordination gives it to someone who may write it: the pathway goes on.
    doctor = coordinator  # a coordinator writes medical data in the shipped matrix
    given = coord.post(f"/tasks/{visit['id']}/assign", json={"user": str(doctor.id)})
    assert given.status_code == 200, given.json
    assert coord.post(f"/tasks/{visit['id']}/complete", json={"data": VISIT}).status_code == 200
    assert PathwayInstance.objects.get(id=instance).status == "completed"


def test_a_step_goes_only_to_whoever_may_write_its_form(
    api_as,
    coordinator,
    world,  # noqa: F811
    platform_admin,
    make_user,
    structure,
):
    dossier, gp, nurse = world
    make_user(structure, profession="10", name="Dr Équipe")
    medical_is_read_only_for_doctors(api_as, platform_admin)
    coord = api_as(coordinator)
    started(coord, dossier)
    coord.post(f"/tasks/{evaluation_of(coord)['id']}/complete", json={"data": EVALUATION})
    visit = Task.objects.get(spec="visite")
    # Neither the GP of the circle nor the DAC's doctors may write it: the coordination decides.
    assert (visit.assignee, visit.unresolved) == (coordinator.id, 1)
    assert api_as(gp).get("/tasks").json["items"] == []
    refused = coord.post(f"/tasks/{visit.id}/assign", json={"user": str(gp.id)})
    assert (refused.status_code, list(refused.json["error"]["fields"])) == (422, ["/user"])
    refused = coord.post(f"/tasks/{visit.id}/assign", json={"user": str(nurse.id)})
    assert refused.status_code == 422


def test_a_candidate_who_may_not_write_the_form_cannot_claim_it(
    api_as,
    coordinator,
    world,  # noqa: F811
    platform_admin,
    make_user,
    structure,
):
    dossier, gp, _ = world
    api_as(coordinator).delete(f"/dossiers/{dossier.id}/members/{dossier.member_for(gp.id).id}")
    doctor = make_user(structure, profession="10", name="Dr Équipe")
    coord = api_as(coordinator)
    started(coord, dossier)
    coord.post(f"/tasks/{evaluation_of(coord)['id']}/complete", json={"data": EVALUATION})
    doctor_api = api_as(doctor)
    [offered] = doctor_api.get("/tasks?scope=available").json["items"]
    medical_is_read_only_for_doctors(api_as, platform_admin)
    before = snapshot(EVERYTHING)
    refused = doctor_api.post(f"/tasks/{offered['id']}/claim")
    assert refused.status_code == 403
    assert "habilitée" in refused.json["error"]["message"]
    done = doctor_api.post(f"/tasks/{offered['id']}/complete", json={"data": VISIT})
    assert done.status_code == 403
    assert snapshot(EVERYTHING) == before
