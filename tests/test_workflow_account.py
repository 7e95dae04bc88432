"""The shipped `demande_compte` pathway: a platform process, on no dossier, whose steps go to
the platform team (the platform administrators). The accounts issue starts it for each
confirmed request and hears its end; here it is driven end to end through the API."""

from datetime import timedelta
from pathlib import Path

import pytest
from helpers import html

from app import clock, policy, signals
from app.demo import deploy_shipped_workflows
from app.formkit.services import sync_directory
from app.pathways import events, instances
from app.pathways.models import PathwayInstance, Task
from app.pathways.worker import fire_due_timers

REQUEST = {"demande": {"nom": "Durand", "profession": "60", "rpps": "10101010101"}}
SUBJECT = "account_request:demo-1"


@pytest.fixture
def shipped(app):
    sync_directory(Path(app.root_path).parent / "forms")
    deploy_shipped_workflows()


@pytest.fixture
def finished():
    heard = []

    def listen(instance, dossier, data):
        heard.append((instance.subject, dossier, data.get("verification_compte")))

    with signals.pathway_completed.connected_to(listen):
        yield heard


def start():
    return instances.start_for_subject(policy.SYSTEM, "demande_compte", SUBJECT, REQUEST)


def decide(api, decision, **more):
    [task] = api.get("/tasks?scope=available").json["items"]
    assert task["title"] == "Vérifier la demande de compte"
    assert task["dossier"] is None
    done = api.post(f"/tasks/{task['id']}/complete", json={"data": {"decision": decision, **more}})
    assert done.status_code == 200, done.json
    return task


def test_the_platform_team_accepts_after_asking_for_more(shipped, finished, api_as, platform_admin):
    instance = start()
    admin = api_as(platform_admin)
    decide(admin, "completer", motif="Joignez votre carte professionnelle.")
    assert PathwayInstance.objects.get(id=instance.id).status == "waiting"
    # The requester answers (the accounts issue sends this message when they do).
    caught = events.deliver_to_subject(
        policy.SYSTEM, SUBJECT, "complements_demande_compte", {"piece": "carte"}
    )
    assert caught == [str(instance.id)]
    decide(admin, "accepter", identite_verifiee=True)
    shown = admin.get(f"/instances/{instance.id}").json
    assert shown["status"] == "completed"
    assert [s["name"] for s in shown["steps"] if s["type"] == "EndEvent"] == ["Compte accepté"]
    assert finished == [(SUBJECT, None, {"decision": "accepter", "identite_verifiee": True})]


def test_a_refusal_needs_its_reason(shipped, finished, api_as, platform_admin):
    start()
    admin = api_as(platform_admin)
    [task] = admin.get("/tasks?scope=available").json["items"]
    refused = admin.post(f"/tasks/{task['id']}/complete", json={"data": {"decision": "refuser"}})
    assert refused.status_code == 422
    assert "/data/motif" in refused.json["error"]["fields"]
    accepted_blindly = admin.post(
        f"/tasks/{task['id']}/complete", json={"data": {"decision": "accepter"}}
    )
    assert accepted_blindly.status_code == 422
    decide(admin, "refuser", motif="Exercice non vérifiable.")
    assert finished[0][2]["decision"] == "refuser"


def test_without_an_answer_the_request_is_filed_and_the_team_is_reminded(
    shipped, finished, api_as, platform_admin
):
    calls = []
    with signals.service_called.connected_to(lambda sender, **kw: calls.append(kw["call"])):
        instance = start()
        with clock.travel(timedelta(days=2, minutes=1)):
            assert fire_due_timers() == 1  # the reminder; the task stays
        assert [c["params"]["to"] for c in calls] == ["equipe_plateforme"]
        decide(api_as(platform_admin), "completer", motif="Pièce manquante.")
        with clock.travel(timedelta(days=31)):
            assert fire_due_timers() == 1
    instance.reload()
    assert instance.status == "completed"
    assert finished[0][2]["decision"] == "completer"


def test_only_the_platform_team_sees_its_steps(
    shipped, api_as, login_as, platform_admin, coordinator, structure_admin
):
    instance = start()
    task = Task.objects.get(instance=instance.id)
    for user in (coordinator, structure_admin):
        api = api_as(user)
        assert api.get("/tasks?scope=available").json["items"] == []
        assert api.get(f"/tasks/{task.id}").status_code == 404
        assert api.post(f"/tasks/{task.id}/claim").status_code == 404
        assert api.get(f"/instances/{instance.id}").status_code == 404
        assert login_as(user).get(f"/taches/{task.id}").status_code == 404
    page = login_as(platform_admin).get(f"/taches/{task.id}")
    assert page.status_code == 200
    assert "Démarche de la plateforme" in html(page)
    assert "Vérifier la demande de compte" in html(page)
    assert 'name="decision"' in html(page)  # a candidate may fill it: taken on the way
    assert api_as(platform_admin).post(f"/tasks/{task.id}/claim").status_code == 200


def test_the_second_admin_on_a_step_is_told_it_is_taken(shipped, api_as, platform_admin, make_user):
    """Issue 19: two platform admins decide the same request; the second was refused (403:
    they see the step, which is no longer theirs). They get 409 saying it, nothing written."""
    instance = start()
    task = Task.objects.get(instance=instance.id)
    first, second = api_as(platform_admin), api_as(make_user(platform_admin=True))
    assert first.post(f"/tasks/{task.id}/claim").status_code == 200
    accept = {"data": {"decision": "accepter", "identite_verifiee": True}}
    late = second.post(f"/tasks/{task.id}/complete", json=accept)
    assert (late.status_code, late.json["error"]["message"]) == (409, instances.TAKEN)
    done = first.post(f"/tasks/{task.id}/complete", json=accept)
    assert done.status_code == 200, done.json
    again = second.post(f"/tasks/{task.id}/claim")
    assert again.status_code == 409
    done_by = f"Cette tâche a déjà été faite par {platform_admin.name}."
    assert again.json["error"]["message"] == done_by
    task.reload()
    assert task.completed_by == platform_admin.id


def test_a_structure_cannot_deploy_the_platform_lane(api_as, structure_admin, shipped):
    text = (Path(__file__).parents[1] / "workflows" / "demande_compte.bpmn").read_bytes()
    refused = api_as(structure_admin).post(
        "/pathways?structure=dac-test",
        data=text.replace(b'id="demande_compte"', b'id="ma_demande"'),
        headers={"Content-Type": "application/xml"},
    )
    assert refused.status_code == 422
    messages = [p["message"] for p in refused.json["error"]["problems"]]
    assert any("Rôle inconnu : « equipe_plateforme »" in m for m in messages)
