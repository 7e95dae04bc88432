"""Timers fire without anyone online (`parcours worker`), exactly once even with two workers;
BPMN messages reach a dossier's pathways through the API."""

import io
from datetime import timedelta
from pathlib import Path

import pytest
from dossier_helpers import new_dossier
from helpers import run_at_once, snapshot
from test_engine_parser import changed
from test_engine_runtime import MESSAGE as ENGINE_MESSAGE
from test_pathway_instances import EVALUATION, world  # noqa: F401
from test_pathways import BPMN

from app import clock, policy, signals
from app.cli import cli
from app.engine import runtime
from app.formkit.services import sync_directory
from app.pathways.models import PathwayInstance, PathwayStep, Task
from app.pathways.services import deploy
from app.pathways.worker import fire_due_timers

# The reminder of the visit, after 7 days, notifies the doctor.
REMINDER = changed(
    (
        '<bpmn:sequenceFlow id="f_relance" sourceRef="relance" targetRef="end_relance"/>',
        '<bpmn:sequenceFlow id="f_relance" sourceRef="relance" targetRef="rappel"/>'
        '<bpmn:serviceTask id="rappel" name="Rappel au médecin"><bpmn:extensionElements>'
        '<spiffworkflow:serviceTaskOperator id="notify"><spiffworkflow:parameters>'
        '<spiffworkflow:parameter id="template" type="str" value="\'rappel\'"/>'
        "</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>"
        "</bpmn:extensionElements></bpmn:serviceTask>"
        '<bpmn:sequenceFlow id="f_rappel" sourceRef="rappel" targetRef="end_relance"/>',
    ),
    text=BPMN.decode(),
).encode()


@pytest.fixture
def calls():
    """The service calls the steps made, as the inbox will hear them."""
    heard = []

    def listen(instance, dossier, call):
        heard.append((instance.id, call["element"]))

    signals.service_called.connect(listen)
    yield heard
    signals.service_called.disconnect(listen)


@pytest.fixture
def waiting_visits(api_as, coordinator, structure, app, make_user):
    """`make(n)`: n dossiers whose pathway waits on the doctor's visit (timer in 7 days);
    `to`: whom the reminder notifies (the parameter `to` of its notify)."""
    sync_directory(Path(app.root_path).parent / "forms")
    coord = api_as(coordinator)
    gp = make_user(structure, profession="10")

    def make(n, to=None):
        said = f'<spiffworkflow:parameter id="to" type="str" value="\'{to}\'"/>' if to else ""
        deploy(
            policy.SYSTEM,
            REMINDER.replace(
                b"</spiffworkflow:parameters>", f"{said}</spiffworkflow:parameters>".encode()
            ),
        )
        ids = []
        for i in range(n):
            dossier = new_dossier(coordinator, structure, identity={"birth_name": f"Dupont{i}"})
            coord.post(
                f"/dossiers/{dossier.id}/members",
                json={"user": str(gp.id), "care_role": "medecin_traitant"},
            )
            started = coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
            instance = started.json["instance"]
            [step] = [t for t in coord.get("/tasks").json["items"] if t["instance"] == instance]
            done = coord.post(
                f"/tasks/{step['id']}/complete", json={"data": {**EVALUATION, "gir": 3}}
            )
            assert done.status_code == 200, done.json
            ids.append(instance)
        return ids

    return make


def test_a_reminder_fires_once_when_due(waiting_visits, calls):
    [instance_id] = waiting_visits(1)
    instance = PathwayInstance.objects.get(id=instance_id)
    assert instance.status == "running"
    due = instance.next_timer_at
    assert timedelta(days=6, hours=23) < due - clock.utcnow() <= timedelta(7)
    assert fire_due_timers() == 0
    with clock.travel(timedelta(days=6)):
        assert fire_due_timers() == 0
    with clock.travel(timedelta(days=7, minutes=1)):
        assert fire_due_timers() == 1
        assert fire_due_timers() == 0  # fired: not twice
    assert calls == [(instance.id, "rappel")]
    instance.reload()
    assert instance.status == "running"
    assert (instance.next_timer_at, instance.lease_owner) == (None, None)
    # The visit is still to do (the reminder does not interrupt it), and the history says
    # that the platform sent the reminder.
    assert Task.objects(instance=instance.id, status="open").count() == 1
    reminder = PathwayStep.objects.get(instance=instance.id, spec="rappel")
    assert (reminder.actor, reminder.element_type) == (None, "ServiceTask")


def test_two_workers_never_fire_the_same_timer_twice(waiting_visits, calls, app):
    ids = waiting_visits(6)
    moved = []

    def work(name):
        with app.app_context():
            moved.append(fire_due_timers(clock.utcnow() + timedelta(days=8), owner=name))

    assert run_at_once(work) == []
    assert sum(moved) == 6
    assert sorted(str(i) for i, _ in calls) == sorted(ids)


def test_a_held_lease_is_respected_until_it_expires(waiting_visits, calls):
    [instance_id] = waiting_visits(1)
    later = clock.utcnow() + timedelta(days=8)
    PathwayInstance.objects(id=instance_id).update_one(
        set__lease_owner="other", set__lease_until=clock.utcnow() + timedelta(minutes=5)
    )
    assert fire_due_timers(later) == 0
    with clock.travel(timedelta(minutes=6)):  # the other worker died: its lease expired
        assert fire_due_timers(later) == 1
    assert len(calls) == 1


def test_a_failing_timer_step_goes_to_error_and_the_others_go_on(
    waiting_visits, calls, monkeypatch, api_as, platform_admin
):
    first, second = waiting_visits(2)
    real = runtime.CONNECTORS["notify"]
    broken = {"first": True}

    def notify(params, context):
        if broken["first"]:
            broken["first"] = False
            raise runtime.ConnectorError("serveur injoignable")
        return real(params, context)

    monkeypatch.setitem(runtime.CONNECTORS, "notify", notify)
    with clock.travel(timedelta(days=8)):
        assert fire_due_timers() == 1
        statuses = sorted(PathwayInstance.objects.scalar("status"))
        assert statuses == ["error", "running"]
        failed = PathwayInstance.objects.get(status="error")
        assert failed.error["pending"] == {"op": "timers"}
        assert "serveur injoignable" in failed.error["message"]
        assert fire_due_timers() == 0  # an instance in error waits for its retry
        retried = api_as(platform_admin).post(f"/instances/{failed.id}/retry")
        assert retried.status_code == 200, retried.json
    assert retried.json["status"] == "running"
    assert len(calls) == 2


def test_the_worker_command_runs_once(waiting_visits, runner, calls):
    waiting_visits(1)
    with clock.travel(timedelta(days=8)):
        result = runner.invoke(cli, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 pathway instance(s) moved" in result.output
    assert len(calls) == 1


# --- messages --------------------------------------------------------------------------------

MESSAGE = ENGINE_MESSAGE.replace('"synthese"', '"fiche_liaison_sortie_hospitalisation"')
START_BY_MESSAGE = changed(
    ('<bpmn:startEvent id="start"/>', ""),
    ('<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sortie"/>', ""),
    ('<bpmn:intermediateCatchEvent id="sortie"', '<bpmn:startEvent id="sortie"'),
    ("</bpmn:intermediateCatchEvent>", "</bpmn:startEvent>"),
    ('<bpmn:process id="retour_domicile"', '<bpmn:process id="accueil_sortie"'),
    text=MESSAGE,
)
SORTIE = {"name": "sortie_hospitalisation", "payload": {"date": "2026-03-04", "service": "MPR"}}


@pytest.fixture
def messages(app):
    sync_directory(Path(app.root_path).parent / "forms")
    deploy(policy.SYSTEM, MESSAGE.encode())


def test_a_message_moves_the_waiting_instance_on(api_as, coordinator, world, messages):  # noqa: F811
    dossier, gp, nurse = world
    coord = api_as(coordinator)
    instance = coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "retour_domicile"})
    instance = instance.json["instance"]
    assert coord.get(f"/instances/{instance}").json["status"] == "waiting"
    # A member of the circle (the hospital's software acts with a member's token) sends it.
    sent = api_as(nurse).post(f"/dossiers/{dossier.id}/events", json=SORTIE)
    assert sent.status_code == 200, sent.json
    assert sent.json == {"caught": [instance], "started": []}
    [task] = coord.get("/tasks").json["items"]
    assert task["title"] == "Bilan de retour"
    shown = coord.get(f"/instances/{instance}").json
    assert shown["status"] == "running"
    assert "sortie" in [s["element"] for s in shown["steps"]]
    # Nothing waits for it any more: delivered to nobody, nothing changes.
    before = snapshot(("pathway_instances", "tasks"))
    again = api_as(nurse).post(f"/dossiers/{dossier.id}/events", json=SORTIE)
    assert again.json == {"caught": [], "started": []}
    assert snapshot(("pathway_instances", "tasks")) == before


def test_a_message_starts_the_pathways_that_begin_with_it(api_as, coordinator, world, messages):  # noqa: F811
    dossier, _, nurse = world
    deploy(policy.SYSTEM, START_BY_MESSAGE.encode())
    sent = api_as(nurse).post(f"/dossiers/{dossier.id}/events", json=SORTIE)
    assert sent.status_code == 200, sent.json
    [started] = sent.json["started"]
    instance = PathwayInstance.objects.get(id=started)
    assert (instance.pathway, instance.status) == ("accueil_sortie", "running")
    [task] = api_as(coordinator).get("/tasks").json["items"]
    assert task["instance"] == started


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"payload": {}}, 422, "/name"),
        ({"name": ""}, 422, "/name"),
        ({"name": "a b<script>"}, 422, "/name"),
        ({"name": "x" * 101}, 422, "/name"),
        ({"name": "sortie", "payload": []}, 422, "/payload"),
        ({"name": "sortie", "extra": 1}, 422, ""),
    ],
)
def test_bad_events_are_refused(api_as, coordinator, world, messages, body, status, field):  # noqa: F811
    dossier, *_ = world
    before = snapshot(("pathway_instances", "tasks", "timeline"))
    refused = api_as(coordinator).post(f"/dossiers/{dossier.id}/events", json=body)
    assert refused.status_code == status
    if field:
        assert field in refused.json["error"]["fields"]
    assert snapshot(("pathway_instances", "tasks", "timeline")) == before


def test_events_need_a_place_on_the_dossier(api_as, coordinator, world, messages, make_user):  # noqa: F811
    dossier, gp, _ = world
    coord = api_as(coordinator)
    coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "retour_domicile"})
    before = snapshot(("pathway_instances", "tasks"))
    stranger = api_as(make_user(profession="10"))
    assert stranger.post(f"/dossiers/{dossier.id}/events", json=SORTIE).status_code == 404
    coord.post(f"/dossiers/{dossier.id}/exclusions", json={"user": str(gp.id)})
    assert api_as(gp).post(f"/dossiers/{dossier.id}/events", json=SORTIE).status_code == 404
    big = {"name": "sortie", "payload": {"x": "a" * (3 * 2**20)}}
    assert coord.post(f"/dossiers/{dossier.id}/events", json=big).status_code == 413
    assert snapshot(("pathway_instances", "tasks")) == before


# --- a timer that repeats every second (issue 17): 41 notices to one coordinator a round ------

EVERY_SECOND = REMINDER.replace(
    b'<bpmn:timeDuration>"P7D"</bpmn:timeDuration>', b'<bpmn:timeCycle>"R/PT1S"</bpmn:timeCycle>'
)


def test_a_timer_repeating_every_second_is_refused_at_deploy(api_as, login_as, platform_admin, app):
    sync_directory(Path(app.root_path).parent / "forms")
    before = snapshot(("pathways", "pathway_versions"))
    refused = api_as(platform_admin).client.post(
        "/api/v1/pathways",
        data=EVERY_SECOND,
        headers={**api_as(platform_admin).headers, "Content-Type": "application/xml"},
    )
    assert refused.status_code == 422
    [problem] = refused.json["error"]["problems"]
    assert (problem["element"], problem["message"]) == (
        "relance",
        "Minuterie trop fréquente : elle se répète toutes les 1 s, le minimum est 1 h.",
    )
    page = login_as(platform_admin).post(
        "/parcours/deployer",
        {"bpmn": (io.BytesIO(EVERY_SECOND), "relance.bpmn")},
        content_type="multipart/form-data",
    )
    assert page.status_code == 422
    assert "Minuterie trop fréquente" in page.get_data(as_text=True)
    assert snapshot(("pathways", "pathway_versions")) == before
    app.config["TIMER_MIN_REPEAT"] = 1  # the operator's choice: then it deploys
    assert deploy(policy.SYSTEM, EVERY_SECOND)[2] is True


@pytest.fixture
def every_second(app, api_as, coordinator, structure):
    """A pathway whose visit is reminded every second (deployed under a minimum of 1 s)."""
    sync_directory(Path(app.root_path).parent / "forms")
    app.config["TIMER_MIN_REPEAT"] = 1
    deploy(policy.SYSTEM, EVERY_SECOND)
    coord = api_as(coordinator)
    dossier = new_dossier(coordinator, structure)
    started = coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    [step] = coord.get("/tasks").json["items"]
    done = coord.post(f"/tasks/{step['id']}/complete", json={"data": {**EVALUATION, "gir": 3}})
    assert done.status_code == 200, done.json
    return started.json["instance"]


def test_one_round_of_a_timer_firing_every_second_tells_a_person_at_most_the_cap(
    every_second, coordinator
):
    from app.notifications.models import Notification, OutgoingMail

    assert fire_due_timers(clock.utcnow() + timedelta(seconds=60)) == 1
    # The cycle caught up 59 missed seconds in the round: 59 reminders to the coordination.
    told = Notification.objects(user=coordinator.id, kind="reminder")
    assert told.count() == 21  # NOTIFY_MAX_PER_HOUR (20), then one that folds the others
    folded = told.order_by("-id").first()
    assert folded.text.startswith("Et ")
    assert "Et 40 autres notifications « Relance d'un parcours »" in folded.text
    assert folded.mail is None
    assert OutgoingMail.objects(user=coordinator.id).count() == 20


def test_a_cycle_deployed_under_a_lower_minimum_stops_when_the_minimum_rises(
    every_second, coordinator, app
):
    from app.notifications.models import Notification

    app.config["TIMER_MIN_REPEAT"] = 3600
    assert fire_due_timers(clock.utcnow() + timedelta(seconds=60)) == 0
    instance = PathwayInstance.objects.get(id=every_second)
    assert instance.status == "error"
    assert "Minuterie trop fréquente" in instance.error["message"]
    assert Notification.objects(user=coordinator.id, kind="reminder").count() == 0
