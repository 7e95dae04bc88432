"""A failed step never carries what was typed in a form (issue 17): its error names the element,
the expression and the kind of problem, and it reaches structure and platform admins who may
not open the dossier (the failures list, the instance page, the API, the history, the audit
trail), the completer's refusal and the retry's answer."""

import json
from pathlib import Path

import mongoengine
import pytest
from dossier_helpers import new_dossier
from helpers import html
from test_engine_parser import changed
from test_pathway_instances import EVALUATION
from test_pathways import BPMN

from app import policy
from app.engine import runtime
from app.formkit.services import sync_directory
from app.pathways.models import PathwayInstance, PathwayStep
from app.pathways.services import deploy

SECRET = "Sérologie VIH positive, traitement en cours"
# The designer's condition reads a text field as a number: int() fails on what was typed.
CONDITION = 'int(evaluation_multidimensionnelle["synthese"]["analyse"]) &gt; 0'


@pytest.fixture
def dossier(app, coordinator, structure):
    sync_directory(Path(app.root_path).parent / "forms")
    return new_dossier(coordinator, structure)


@pytest.fixture
def failing(dossier):
    bpmn = changed(('evaluation_multidimensionnelle["gir"] &lt;= 2', CONDITION), text=BPMN.decode())
    deploy(policy.SYSTEM, bpmn.encode())
    return dossier


def _leaks(text):
    return "Sérologie" in text or "VIH" in text


def _everything_stored():
    """What a failed step writes, as text: the instances' errors (but the submission kept to
    run it again, which is shown nowhere), the history, the audit trail."""
    db = mongoengine.get_db()
    errors = [i.get("error", {}) for i in db.pathway_instances.find({}, {"error": 1})]
    written = [{k: v for k, v in e.items() if k != "pending"} for e in errors]
    written += list(db.pathway_steps.find({}, {"_id": 0}))
    written += list(db.audit_events.find({}, {"_id": 0}))
    return json.dumps(written, default=str, ensure_ascii=False)


def test_a_failed_condition_keeps_form_data_out_of_every_error(
    api_as, login_as, coordinator, structure_admin, platform_admin, failing
):
    coord = api_as(coordinator)
    started = coord.post(f"/dossiers/{failing.id}/pathways", json={"pathway": "suivi_gir"})
    instance = started.json["instance"]
    [step] = coord.get("/tasks").json["items"]
    data = {**EVALUATION, "synthese": {"analyse": SECRET}}
    failed = coord.post(f"/tasks/{step['id']}/complete", json={"data": data})
    assert failed.status_code == 422
    message = failed.json["error"]["message"]
    assert not _leaks(json.dumps(failed.json, ensure_ascii=False))
    # The element, the expression and the kind of problem: what the designer needs.
    assert message.startswith("Passerelle « GIR ? » : Valeur invalide (ValueError)")
    assert 'int(evaluation_multidimensionnelle["synthese"]["analyse"]) > 0' in message
    stored = PathwayInstance.objects.get(id=instance).error
    assert stored["element"] == "gw_gir"
    assert not _leaks(stored["message"])
    assert not _leaks(PathwayStep.objects.get(kind="error").detail)
    # The admins, who do not see the dossier, read the same clean message everywhere.
    for admin in (structure_admin, platform_admin):
        shown = api_as(admin).get(f"/instances/{instance}").json
        assert shown["error"]["message"] == stored["message"]
        assert not _leaks(json.dumps(shown, ensure_ascii=False))
        web = login_as(admin)
        assert not _leaks(html(web.get("/parcours/erreurs")))
        assert not _leaks(html(web.get(f"/parcours/instances/{instance}")))
        retried = api_as(admin).post(f"/instances/{instance}/retry")
        assert retried.status_code == 422
        assert not _leaks(json.dumps(retried.json, ensure_ascii=False))
        page = web.post(f"/parcours/instances/{instance}/relancer", follow_redirects=True)
        assert "La relance a échoué" in html(page)
        assert not _leaks(html(page))
    # The completer trying again is told the pathway is in error, with the same message.
    again = coord.post(f"/tasks/{step['id']}/complete", json={"data": data})
    assert again.status_code == 409
    assert not _leaks(again.json["error"]["message"])
    assert not _leaks(_everything_stored())


def test_a_failed_step_in_the_browser_shows_no_form_data(login_as, coordinator, failing):
    from app.pathways.models import Task

    coord = login_as(coordinator)
    coord.post(f"/dossiers/{failing.id}/parcours", {"pathway": "suivi_gir"})
    task = Task.objects.get()
    posted = {
        "date_evaluation": "2026-11-27",
        "lieu_evaluation": "domicile",
        "gir": "3",
        "aidants.aidant_present": "false",
        "synthese.analyse": SECRET,
    }
    failed = coord.post(f"/taches/{task.id}", posted)
    assert failed.status_code == 422
    page = html(failed)
    # The form keeps what was typed (in its field), the error message does not quote it.
    alert = page.split('class="alert alert-danger"', 1)[1].split("</div>", 1)[0]
    assert "Valeur invalide (ValueError)" in alert
    assert not _leaks(alert)


def test_a_failing_connector_tells_its_type_not_its_message(
    api_as, coordinator, dossier, monkeypatch
):
    def leaky(params, context):
        raise RuntimeError(f"refusé pour {context.data['evaluation_multidimensionnelle']}")

    monkeypatch.setitem(runtime.CONNECTORS, "notify", leaky)
    deploy(policy.SYSTEM, BPMN)
    coord = api_as(coordinator)
    coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    [step] = coord.get("/tasks").json["items"]
    data = {**EVALUATION, "gir": 2, "synthese": {"analyse": SECRET}}
    failed = coord.post(f"/tasks/{step['id']}/complete", json={"data": data})
    assert failed.status_code == 422
    message = failed.json["error"]["message"]
    assert message.startswith("Étape « Prévenir le médecin » : Le service « notify » a échoué")
    assert "(RuntimeError)" in message
    assert not _leaks(message)
    assert not _leaks(_everything_stored())
