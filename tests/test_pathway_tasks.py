"""Who does a step: candidates claim a task, its assignee gives it back, the coordination
reassigns it; a failed step puts the instance in error, and an administrator retries it."""

import pytest
from helpers import html, snapshot
from test_pathway_instances import COLLECTIONS, EVALUATION, VISIT, world  # noqa: F401

from app.dossiers import circle
from app.dossiers.models import Entry
from app.engine import runtime
from app.notifications.models import Notification
from app.pathways.models import PathwayInstance, PathwayStep, Task


def start(api, dossier):
    started = api.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    assert started.status_code == 201, started.json
    return started.json["instance"]


def first_step(coord, dossier, gir=3):
    """Start, then do the evaluation: the visit (lane medecin_traitant) is next."""
    instance = start(coord, dossier)
    [step] = coord.get("/tasks").json["items"]
    done = coord.post(f"/tasks/{step['id']}/complete", json={"data": {**EVALUATION, "gir": gir}})
    assert done.status_code == 200, done.json
    return instance


@pytest.fixture
def unrouted(api_as, coordinator, world, make_user, structure):  # noqa: F811
    """The GP leaves the circle: the visit goes to the DAC's doctors, as candidates."""
    dossier, gp, _ = world
    api_as(coordinator).delete(f"/dossiers/{dossier.id}/members/{dossier.member_for(gp.id).id}")
    dossier.reload()
    doctors = [make_user(structure, profession="10", name=f"Dr Équipe {n}") for n in (1, 2)]
    return dossier, doctors


def test_candidates_claim_and_release_a_task(api_as, coordinator, unrouted):
    dossier, (doc1, doc2) = unrouted
    first_step(api_as(coordinator), dossier)
    one, two = api_as(doc1), api_as(doc2)
    [offered] = one.get("/tasks?scope=available").json["items"]
    assert offered["assignee"] is None
    assert one.get("/tasks").json["items"] == []
    # Invalid data from a candidate: refused, and the task is not taken either.
    bad = one.post(f"/tasks/{offered['id']}/complete", json={"data": {"objet_visite": 1}})
    assert bad.status_code == 422
    assert Task.objects.get(id=offered["id"]).assignee is None
    claimed = one.post(f"/tasks/{offered['id']}/claim")
    assert claimed.status_code == 200, claimed.json
    assert claimed.json["assignee"] == str(doc1.id)
    assert [t["id"] for t in one.get("/tasks").json["items"]] == [offered["id"]]
    # Taken: no longer offered to the other doctor, who can neither claim nor complete it.
    assert two.get("/tasks?scope=available").json["items"] == []
    assert two.post(f"/tasks/{offered['id']}/claim").status_code == 409  # someone holds it
    assert two.post(f"/tasks/{offered['id']}/complete", json={"data": VISIT}).status_code == 409
    # Given back: offered again to both, and the other doctor is told.
    released = one.post(f"/tasks/{offered['id']}/release")
    assert released.status_code == 200
    assert released.json["assignee"] is None
    told = Notification.objects(user=doc2.id, text__startswith="Tâche de nouveau à prendre")
    assert told.count() == 1
    assert not Notification.objects(user=doc1.id, text__startswith="Tâche de nouveau").count()
    assert [t["id"] for t in two.get("/tasks?scope=available").json["items"]] == [offered["id"]]
    assert two.post(f"/tasks/{offered['id']}/claim").status_code == 200
    assert two.post(f"/tasks/{offered['id']}/complete", json={"data": VISIT}).status_code == 200
    kinds = [s.kind for s in PathwayStep.objects(task=offered["id"]).order_by("at")]
    assert kinds[:3] == ["claim", "release", "claim"]
    # Done by the other: it says so to the one it was offered to (issue 19).
    assert one.post(f"/tasks/{offered['id']}/release").status_code == 409


def test_a_claim_race_has_one_winner(api_as, coordinator, unrouted, monkeypatch):
    """Both read the task as free; the second write finds it taken."""
    from app.pathways import instances

    dossier, (doc1, doc2) = unrouted
    first_step(api_as(coordinator), dossier)
    [offered] = api_as(doc1).get("/tasks?scope=available").json["items"]
    get_task = instances.get_task

    def read_then_other_claims(actor, task_id, action="task.view"):
        found = get_task(actor, task_id, action)
        Task.objects(id=task_id).update_one(set__assignee=doc2.id)
        return found

    monkeypatch.setattr(instances, "get_task", read_then_other_claims)
    lost = api_as(doc1).post(f"/tasks/{offered['id']}/claim")
    assert lost.status_code == 409
    assert "prise par quelqu'un d'autre" in lost.json["error"]["message"]
    assert Task.objects.get(id=offered["id"]).assignee == doc2.id


@pytest.fixture
def raced(api_as, coordinator, unrouted, make_user, structure):
    """The visit is offered to the DAC's doctors; one of them also coordinates the structure
    (they see the dossier, so a refusal judged on the taken task was a 403, not a 404)."""
    dossier, (doc1, doc2) = unrouted
    both = make_user(structure, roles=["coordinator"], profession="10", name="Dr Coordinatrice")
    first_step(api_as(coordinator), dossier)
    [task] = Task.objects(status="open")
    return task, doc1, {"outside": doc2, "coordinator": both}


def _win(api_as, task, winner, how):
    won = api_as(winner).post(
        f"/tasks/{task.id}/{how}", **({"json": {"data": VISIT}} if how == "complete" else {})
    )
    assert won.status_code == 200, won.json


@pytest.mark.parametrize("loser_kind", ["outside", "coordinator"])
@pytest.mark.parametrize("won_by", ["claim", "complete"])
@pytest.mark.parametrize("lost_by", ["claim", "complete"])
def test_the_loser_of_a_race_is_told_409_not_refused(api_as, raced, loser_kind, won_by, lost_by):
    """Issue 19: two candidates take (or complete) the same offered task; the loser was
    refused (404 outside the dossier, 403 for a coordinator who sees it), as if it had
    never been theirs to take. They get 409 saying it is taken (or who did it), and nothing
    changes."""
    task, winner, losers = raced
    loser = losers[loser_kind]
    _win(api_as, task, winner, won_by)
    before = snapshot(COLLECTIONS)
    lost = api_as(loser).post(
        f"/tasks/{task.id}/{lost_by}",
        **({"json": {"data": VISIT}} if lost_by == "complete" else {}),
    )
    assert lost.status_code == 409, lost.json
    message = lost.json["error"]["message"]
    if won_by == "complete":
        assert message == f"Cette tâche a déjà été faite par {winner.name}."
    else:
        assert message == "Cette tâche est déjà prise par quelqu'un d'autre."
    assert snapshot(COLLECTIONS) == before


def test_the_loser_of_a_simultaneous_completion_is_told_409(api_as, raced, monkeypatch):
    """Both read the task as free and send their form; the winner takes it between the
    loser's read and the claim the loser's completion makes on the way: 409, nothing of the
    loser's written."""
    from app.pathways import instances

    task, winner, losers = raced
    get_task = instances.get_task

    for loser in losers.values():
        read = []

        def read_then_other_claims(actor, task_id, action="task.view", loser=loser, read=read):
            found = get_task(actor, task_id, action)
            if actor.id == loser.id and not read:
                read.append(True)
                _win(api_as, task, winner, "claim")
            return found

        monkeypatch.setattr(instances, "get_task", read_then_other_claims)
        lost = api_as(loser).post(f"/tasks/{task.id}/complete", json={"data": VISIT})
        assert (lost.status_code, lost.json["error"]["message"]) == (409, instances.TAKEN)
        task.reload()
        assert (task.status, task.assignee) == ("open", winner.id)
        assert Entry.objects(author=loser.id).count() == 0
        Task.objects(id=task.id).update_one(set__assignee=None)  # offered again


def test_a_loser_in_the_browser_is_told_the_task_is_taken(login_as, raced):
    task, winner, losers = raced
    for loser in losers.values():
        assert login_as(winner).post(f"/taches/{task.id}/prendre").status_code == 302
        web = login_as(loser)
        # The form sent: 409 saying so; its page too for who no longer sees the task (the
        # coordinator still does, with who holds it).
        sent = web.post(f"/taches/{task.id}", {"objet_visite": "suivi"})
        assert sent.status_code == 409
        assert "Cette tâche est déjà prise par quelqu&#39;un d&#39;autre." in html(sent)
        page = web.get(f"/taches/{task.id}")
        if loser is losers["outside"]:
            assert page.status_code == 409
            assert "Cette tâche est déjà prise par quelqu&#39;un d&#39;autre." in html(page)
        else:
            assert page.status_code == 200
            assert winner.name in html(page)
        taken = web.post(f"/taches/{task.id}/prendre")
        assert taken.headers["Location"] == "/taches?scope=available"
        assert "Cette tâche est déjà prise" in html(web.get("/taches?scope=available"))
        assert Task.objects.get(id=task.id).assignee == winner.id
        Task.objects(id=task.id).update_one(set__assignee=None)  # offered again


def test_the_coordination_reassigns_a_task(api_as, coordinator, world, make_user, structure):  # noqa: F811
    dossier, gp, nurse = world
    coord = api_as(coordinator)
    first_step(coord, dossier)
    [visit] = api_as(gp).get("/tasks").json["items"]
    # To someone outside the circle and the team: refused, with the field.
    stranger = make_user(profession="10")
    refused = coord.post(f"/tasks/{visit['id']}/assign", json={"user": str(stranger.id)})
    assert refused.status_code == 422
    assert "/user" in refused.json["error"]["fields"]
    bad = coord.post(f"/tasks/{visit['id']}/assign", json={"user": "x" * 41})
    assert (bad.status_code, list(bad.json["error"]["fields"])) == (422, ["/user"])
    # The nurse is in the circle, but may not write the visit's medical report.
    refused = coord.post(f"/tasks/{visit['id']}/assign", json={"user": str(nurse.id)})
    assert (refused.status_code, list(refused.json["error"]["fields"])) == (422, ["/user"])
    # Another doctor of the circle may do it.
    other = make_user(structure, profession="10", name="Dr Remplaçant")
    circle.add_member(
        coordinator, dossier, {"user": str(other.id), "care_role": "medecin_specialiste"}
    )
    given = coord.post(f"/tasks/{visit['id']}/assign", json={"user": str(other.id)})
    assert given.status_code == 200, given.json
    assert given.json["assignee"] == str(other.id)
    assert api_as(gp).get("/tasks").json["items"] == []
    assert [t["id"] for t in api_as(other).get("/tasks").json["items"]] == [visit["id"]]
    step = PathwayStep.objects.get(kind="assign")
    assert (step.actor, step.detail) == (coordinator.id, other.name)
    # Only the coordination reassigns.
    refused = api_as(other).post(f"/tasks/{visit['id']}/assign", json={"user": str(gp.id)})
    assert refused.status_code == 403


@pytest.fixture
def failing_notify(monkeypatch):
    """The `notify` connector fails until `fixed` is set."""
    state = {"fixed": False, "calls": 0}

    def notify(params, context):
        state["calls"] += 1
        if not state["fixed"]:
            raise runtime.ConnectorError("serveur injoignable")
        return {"sent": True}

    monkeypatch.setitem(runtime.CONNECTORS, "notify", notify)
    return state


def test_a_failed_step_keeps_everything_and_an_admin_retries_it(
    api_as,
    coordinator,
    world,  # noqa: F811
    failing_notify,
    platform_admin,
    structure_admin,
):
    dossier, gp, _ = world
    coord = api_as(coordinator)
    instance = start(coord, dossier)
    [step] = coord.get("/tasks").json["items"]
    before = snapshot(("entries", "timeline"))
    # GIR 2: the pathway notifies the doctor, and the connector fails.
    failed = coord.post(f"/tasks/{step['id']}/complete", json={"data": EVALUATION})
    assert failed.status_code == 422
    message = failed.json["error"]["message"]
    assert message.startswith(
        "Étape « Prévenir le médecin » : Le service « notify » a échoué : serveur injoignable."
    )
    assert "relancer l'étape sans que rien ne soit ressaisi" in message
    assert snapshot(("entries", "timeline")) == before
    shown = coord.get(f"/instances/{instance}").json
    assert shown["status"] == "error"
    assert shown["error"]["element"] == "notify_doctor"
    assert shown["error"]["retry"] == "complete"
    assert shown["steps"][-1]["kind"] == "error"
    # Nothing moves while it is in error.
    again = coord.post(f"/tasks/{step['id']}/complete", json={"data": EVALUATION})
    assert again.status_code == 409
    assert "relancé par un administrateur" in again.json["error"]["message"]
    # The coordinator sees the error but does not retry; a stranger sees nothing.
    assert coord.post(f"/instances/{instance}/retry").status_code == 403
    assert api_as(gp).post(f"/instances/{instance}/retry").status_code == 403
    # Retried while still failing: still in error, still nothing lost.
    assert api_as(platform_admin).post(f"/instances/{instance}/retry").status_code == 422
    assert PathwayInstance.objects.get(id=instance).status == "error"
    # Fixed, then retried by the structure's admin: the step is done as its author did it.
    failing_notify["fixed"] = True
    retried = api_as(structure_admin).post(f"/instances/{instance}/retry")
    assert retried.status_code == 200, retried.json
    assert (retried.json["status"], retried.json["error"]) == ("running", None)
    entry = Entry.objects.get(kind="form")
    assert (entry.author, entry.data["gir"]) == (coordinator.id, 2)
    task = Task.objects.get(id=step["id"])
    assert (task.status, task.completed_by, task.entry) == ("completed", coordinator.id, entry.id)
    [visit] = api_as(gp).get("/tasks").json["items"]
    assert visit["title"] == "Visite à domicile"
    kinds = [s["kind"] for s in coord.get(f"/instances/{instance}").json["steps"]]
    assert kinds.count("error") == 2
    assert kinds.count("retry") == 2
    assert api_as(platform_admin).post(f"/instances/{instance}/retry").status_code == 409


def test_a_gateway_with_no_way_out_puts_the_instance_in_error(
    api_as,
    coordinator,
    app,
    platform_admin,
):
    from pathlib import Path

    from test_engine_parser import changed
    from test_pathways import BPMN

    from app import policy
    from app.formkit.services import sync_directory
    from app.pathways.services import deploy

    sync_directory(Path(app.root_path).parent / "forms")
    no_default = changed(
        ('default="f_default"', ""),
        ('<bpmn:sequenceFlow id="f_default" sourceRef="gw_gir" targetRef="visite"/>', ""),
        text=BPMN.decode(),
    )
    deploy(policy.SYSTEM, no_default.encode())
    from dossier_helpers import new_dossier

    dossier = new_dossier(coordinator, _structure(coordinator))
    coord = api_as(coordinator)
    instance = start(coord, dossier)
    [step] = coord.get("/tasks").json["items"]
    failed = coord.post(f"/tasks/{step['id']}/complete", json={"data": {**EVALUATION, "gir": 4}})
    assert failed.status_code == 422
    assert failed.json["error"]["message"].startswith(
        "Passerelle « GIR ? » : aucune condition de sortie n'est remplie"
    )
    shown = coord.get(f"/instances/{instance}").json
    assert (shown["status"], shown["error"]["element"]) == ("error", "gw_gir")
    assert Entry.objects(kind="form").count() == 0


def _structure(user):
    from app.structures.models import Structure

    return Structure.objects.get(id=user.memberships[0].structure)
