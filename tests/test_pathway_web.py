"""Pathways in the browser: start one from a dossier, find my tasks, fill a task's form,
take / give back / hand over a task, see the instance's steps, retry a failed step."""

import json
import re
from html import unescape

import pytest
from helpers import html
from test_pathway_instances import world  # noqa: F401
from test_pathway_tasks import failing_notify, unrouted  # noqa: F401

from app.dossiers import circle
from app.dossiers.models import Entry
from app.pathways.models import PathwayInstance, Task

EVALUATION_FORM = {
    "date_evaluation": "2026-11-27",
    "lieu_evaluation": "domicile",
    "gir": "3",
    "aidants.aidant_present": "false",
    "synthese.analyse": "<b>Isolement</b>, chutes",
}


def start(browser, dossier):
    started = browser.post(f"/dossiers/{dossier.id}/parcours", {"pathway": "suivi_gir"})
    assert started.status_code == 302, html(started)
    return started.headers["Location"]


def test_a_coordinator_starts_a_pathway_and_completes_its_first_step(login_as, coordinator, world):  # noqa: F811
    dossier, gp, _ = world
    coord = login_as(coordinator)
    page = html(coord.get(f"/dossiers/{dossier.id}/parcours"))
    assert "Aucun parcours sur ce dossier." in page
    assert 'value="suivi_gir"' in page
    instance_url = start(coord, dossier)
    page = html(coord.get(instance_url))
    assert "Suivi GIR" in page
    assert "En cours" in page
    assert "Évaluation multidimensionnelle" in page
    # My tasks lists it; its page shows the form.
    tasks = html(coord.get("/taches"))
    assert "Évaluation multidimensionnelle" in tasks
    task = Task.objects.get()
    form = html(coord.get(f"/taches/{task.id}"))
    assert "Terminer l'étape" in form
    assert 'name="gir"' in form
    # Invalid: the page again, with the message, what was typed, and nothing kept.
    refused = coord.post(f"/taches/{task.id}", {**EVALUATION_FORM, "gir": "sept"})
    assert refused.status_code == 400
    assert "Le formulaire contient" in html(refused)
    assert "&lt;b&gt;Isolement&lt;/b&gt;, chutes" in html(refused)
    assert Entry.objects.count() == 0
    done = coord.post(f"/taches/{task.id}", EVALUATION_FORM)
    assert done.status_code == 302
    assert done.headers["Location"].endswith(f"/dossiers/{dossier.id}")
    task.reload()
    assert task.status == "completed"
    assert Entry.objects.get().data["synthese"]["analyse"] == "<b>Isolement</b>, chutes"
    # The GP finds the next step in their list; the instance page tells who did what.
    assert "Visite à domicile" in html(login_as(gp).get("/taches"))
    page = html(coord.get(instance_url))
    marks = {
        name: json.loads(unescape(re.search(rf'data-{name}="([^"]*)"', page).group(1)))
        for name in ("completed", "current", "failed")
    }
    assert "evaluation" in marks["completed"]
    assert (marks["current"], marks["failed"]) == (["visite"], [])
    assert "Coordinatrice" in page
    assert "Évaluation multidimensionnelle (étape)" in page
    # Done: completing again is refused with who did it.
    again = coord.post(f"/taches/{task.id}", EVALUATION_FORM)
    assert again.status_code == 409
    assert "déjà été faite par Coordinatrice" in html(again)


def test_a_candidate_takes_then_gives_back_a_task(login_as, coordinator, unrouted):  # noqa: F811
    dossier, (doc1, doc2) = unrouted
    coord = login_as(coordinator)
    start(coord, dossier)
    coord.post(f"/taches/{Task.objects.get().id}", EVALUATION_FORM)
    visit = Task.objects.get(status="open")
    one = login_as(doc1)
    listed = html(one.get("/taches?scope=available"))
    assert "Visite à domicile" in listed
    assert "LEFÈBVRE" in listed
    page = html(one.get(f"/taches/{visit.id}"))
    assert "Prendre cette tâche" in page
    assert one.post(f"/taches/{visit.id}/prendre").status_code == 302
    visit.reload()
    assert visit.assignee == doc1.id
    assert dossier.__class__.objects.get(id=dossier.id).member_for(doc1.id) is not None
    page = html(one.get(f"/taches/{visit.id}"))
    assert "Rendre cette tâche" in page
    assert "Terminer l'étape" in page
    assert login_as(doc2).get(f"/taches/{visit.id}").status_code == 409  # taken, it says so
    assert one.post(f"/taches/{visit.id}/rendre").headers["Location"].endswith("/taches")
    visit.reload()
    assert visit.assignee is None


def test_the_coordination_hands_a_task_over(
    login_as,
    coordinator,
    world,  # noqa: F811
    make_user,
    structure,
):
    dossier, gp, nurse = world
    coord = login_as(coordinator)
    start(coord, dossier)
    coord.post(f"/taches/{Task.objects.get().id}", EVALUATION_FORM)
    visit = Task.objects.get(status="open")
    other = make_user(structure, profession="10", name="Dr Remplaçant")
    circle.add_member(
        coordinator, dossier, {"user": str(other.id), "care_role": "medecin_specialiste"}
    )
    page = html(coord.get(f"/taches/{visit.id}"))
    assert "Confier la tâche" in page
    assert other.name in page
    assert nurse.name not in page  # in the circle, but may not write the visit's report
    assert coord.post(f"/taches/{visit.id}/confier", {"user": str(other.id)}).status_code == 302
    assert Task.objects.get(id=visit.id).assignee == other.id
    # Someone who may not do it: a message, nothing changes.
    for wrong in (str(coordinator.id) + "x", str(nurse.id)):
        refused = coord.post(f"/taches/{visit.id}/confier", {"user": wrong})
        assert refused.status_code == 302
        page = html(coord.get(f"/taches/{visit.id}"))
        assert "Cette personne ne peut pas faire cette tâche" in page
    assert Task.objects.get(id=visit.id).assignee == other.id


def test_a_failed_step_is_shown_and_retried_from_the_page(
    login_as,
    coordinator,
    world,  # noqa: F811
    failing_notify,  # noqa: F811
    structure_admin,
    professional,
):
    dossier, *_ = world
    coord = login_as(coordinator)
    instance_url = start(coord, dossier)
    task = Task.objects.get()
    failed = coord.post(f"/taches/{task.id}", {**EVALUATION_FORM, "gir": "2"})
    assert failed.status_code == 422
    assert "Le service « notify » a échoué : serveur injoignable" in html(failed)
    page = html(coord.get(instance_url))
    assert "En erreur" in page
    assert "Relancer l'étape" not in page
    admin = login_as(structure_admin)
    assert "Suivi GIR" in html(admin.get("/parcours/erreurs"))
    seen_by_admin = html(admin.get(instance_url))
    assert "Relancer l'étape" in seen_by_admin
    assert "Jeanne" not in seen_by_admin  # the steps, not the patient
    still = admin.post(f"{instance_url}/relancer")
    assert "La relance a échoué" in html(admin.get(still.headers["Location"]))
    failing_notify["fixed"] = True
    admin.post(f"{instance_url}/relancer")
    assert PathwayInstance.objects.get().status == "running"
    assert Task.objects.get(id=task.id).status == "completed"
    assert login_as(professional).get("/parcours/erreurs").status_code == 403


@pytest.mark.parametrize("path", ["/taches/{task}", "/parcours/instances/{instance}"])
def test_strangers_see_nothing(login_as, coordinator, world, make_user, path):  # noqa: F811
    dossier, *_ = world
    coord = login_as(coordinator)
    start(coord, dossier)
    task, instance = Task.objects.get(), PathwayInstance.objects.get()
    stranger = login_as(make_user(profession="10"))
    url = path.format(task=task.id, instance=instance.id)
    assert stranger.get(url).status_code == 404
    assert stranger.post(f"/taches/{task.id}", EVALUATION_FORM).status_code == 404
    assert stranger.post(f"/taches/{task.id}/prendre").status_code == 404
    assert stranger.post(f"/parcours/instances/{instance.id}/relancer").status_code == 404
    assert Task.objects.get().status == "open"


def test_the_version_page_keeps_the_product_version_in_its_footer(login_as, coordinator, world):  # noqa: F811
    from app import __version__

    page = html(login_as(coordinator).get("/parcours/suivi_gir"))
    assert f"Parcours {__version__} — logiciel libre" in page


def test_forms_need_their_csrf_token(login_as, coordinator, world):  # noqa: F811
    dossier, *_ = world
    coord = login_as(coordinator)
    refused = coord.post(f"/dossiers/{dossier.id}/parcours", {"pathway": "suivi_gir"}, csrf=False)
    assert refused.status_code == 400
    assert PathwayInstance.objects.count() == 0
