"""A completion is all or nothing (issue 18): every check runs before the engine state is
written; a step the engine cannot finish puts the instance in error (never a 500); deployment
refuses what could not run (a lane that may not write its forms, a generic task, unbounded
loops, too many instances); each step runs within a budget; what is written is audited."""

import io
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import html, snapshot
from test_engine_parser import changed
from test_pathway_instances import EVALUATION, VISIT, world  # noqa: F401
from test_pathways import BPMN, deploy

from app import clock, policy
from app.audit import AuditEvent
from app.cli import cli
from app.dossiers.models import Entry
from app.engine import runtime
from app.formkit.services import sync_directory
from app.pathways import steps
from app.pathways.models import Pathway, PathwayInstance, PathwayVersion, Task
from app.pathways.services import deploy as deploy_as
from app.pathways.worker import fire_due_timers

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


# --- deployment refuses what could not run ---------------------------------------------------


def problems(response):
    assert response.status_code == 422, response.json
    return {(p["element"], p["message"]) for p in response.json["error"]["problems"]}


def test_a_lane_whose_role_may_not_write_a_form_is_refused_with_the_other_problems(
    api_as, platform_admin
):
    body = variant(
        ('name="medecin_traitant"', 'name="assistant_social"'),
        ('"evaluation_multidimensionnelle"', '"formulaire_inconnu"'),
    )
    before = snapshot(("pathways", "pathway_versions"))
    found = problems(deploy(api_as(platform_admin), body))
    assert (
        "visite",
        "Le rôle « Assistant social » de ce couloir ne peut pas écrire les données « Médical » "
        "du formulaire « compte_rendu_visite_domicile » : aucune de ses professions n'y est "
        "habilitée. Placez la tâche dans le couloir d'un rôle habilité.",
    ) in found
    assert ("evaluation", "Formulaire inconnu : « formulaire_inconnu ».") in found
    assert snapshot(("pathways", "pathway_versions")) == before


def test_a_generic_task_is_refused_at_deployment(api_as, platform_admin):
    body = variant(
        ('<bpmn:sequenceFlow id="f4" sourceRef="visite" targetRef="end"/>',
         '<bpmn:sequenceFlow id="f4" sourceRef="visite" targetRef="quoi"/>'
         '<bpmn:task id="quoi" name="À faire"/>'
         '<bpmn:sequenceFlow id="f5" sourceRef="quoi" targetRef="end"/>'),
        ('name="medecin_traitant"', 'name="sorcier"'),
    )  # fmt: skip
    found = problems(deploy(api_as(platform_admin), body))
    assert any(element == "quoi" and "Tâche sans type" in message for element, message in found)
    assert any("sorcier" in message for _, message in found)
    assert Pathway.objects.count() == 0


def test_a_version_deployed_with_a_generic_task_starts_nothing(
    api_as,
    coordinator,
    world,  # noqa: F811
):
    """Deployed before the check (written here directly): its start is refused, with nothing
    written, where it answered 500 and left an instance running with no task."""
    dossier, *_ = world
    version = PathwayVersion.objects.get(pathway="suivi_gir")
    bpmn = version.bpmn.replace(
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="evaluation"/>',
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="quoi"/><bpmn:task id="quoi"/>'
        '<bpmn:sequenceFlow id="f1b" sourceRef="quoi" targetRef="evaluation"/>',
    )
    PathwayVersion.objects(id=version.id).update_one(set__bpmn=bpmn)
    coord = api_as(coordinator)
    before = snapshot(EVERYTHING)
    refused = coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    assert refused.status_code == 422
    assert "Tâche sans type" in refused.json["error"]["message"]
    assert snapshot(EVERYTHING) == before


@pytest.mark.parametrize(
    ("characteristics", "expected"),
    [
        ("<bpmn:standardLoopCharacteristics><bpmn:loopCondition>True</bpmn:loopCondition>"
         "</bpmn:standardLoopCharacteristics>",
         "Boucle sans maximum : indiquez loopMaximum (au plus 100 passages)."),
        ('<bpmn:standardLoopCharacteristics loopMaximum="5000"/>',
         "Boucle de 5000 passages : au plus 100 (loopMaximum)."),
        ("<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>1000000000"
         "</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>",
         "Instances multiples : 1000000000 instances, au plus 100 (loopCardinality)."),
        ("<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>10 ** 9"
         "</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>",
         "Instances multiples : 1000000000 instances, au plus 100 (loopCardinality)."),
    ],
)  # fmt: skip
def test_unbounded_loops_and_too_many_instances_are_refused(
    api_as, platform_admin, characteristics, expected
):
    found = problems(deploy(api_as(platform_admin), looping(characteristics)))
    assert found == {("notify_doctor", expected)}


def test_the_maximum_of_instances_is_a_setting(api_as, platform_admin, app):
    app.config["ENGINE_MAX_CARDINALITY"] = 5
    body = looping('<bpmn:standardLoopCharacteristics loopMaximum="6"/>')
    assert problems(deploy(api_as(platform_admin), body)) == {
        ("notify_doctor", "Boucle de 6 passages : au plus 5 (loopMaximum).")
    }
    app.config["ENGINE_MAX_CARDINALITY"] = 6
    assert deploy(api_as(platform_admin), body).status_code == 201


# --- an engine failure is the instance's error, never a 500 ----------------------------------


def in_error(api, instance):
    shown = api.get(f"/instances/{instance}").json
    assert shown["status"] == "error", shown
    return shown["error"]


def test_a_multi_instance_reading_missing_data_puts_the_instance_in_error(
    api_as,
    coordinator,
    world,  # noqa: F811
    structure_admin,
    login_as,
):
    dossier, *_ = world
    deploy_as(policy.SYSTEM, looping(
        "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>personnes"
        '</bpmn:loopDataInputRef><bpmn:inputDataItem id="personne"/>'
        "</bpmn:multiInstanceLoopCharacteristics>"
    ))  # fmt: skip
    coord = api_as(coordinator)
    instance = started(coord, dossier)
    step = evaluation_of(coord)
    failed = coord.post(f"/tasks/{step['id']}/complete", json={"data": EVALUATION})
    assert failed.status_code == 422
    assert failed.json["error"]["code"] == "pathway_error"
    error = in_error(coord, instance)
    assert error["element"] == "notify_doctor"
    assert "« personnes »" in error["message"]
    assert "Isolement" not in str(failed.json)  # no form value in the message
    assert Entry.objects.count() == 0
    assert Task.objects.get(id=step["id"]).status == "open"
    assert AuditEvent.objects(action="pathway.error", object_id=instance).count() == 1
    assert instance in html(login_as(structure_admin).get("/parcours/erreurs"))


def test_a_cardinality_read_from_the_data_is_bounded_at_run_time(
    api_as,
    coordinator,
    world,  # noqa: F811
    app,
):
    dossier, *_ = world
    deploy_as(policy.SYSTEM, looping(
        "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>"
        'evaluation_multidimensionnelle["gir"] * 60</bpmn:loopCardinality>'
        "</bpmn:multiInstanceLoopCharacteristics>"
    ))  # fmt: skip
    coord = api_as(coordinator)
    instance = started(coord, dossier)
    failed = coord.post(f"/tasks/{evaluation_of(coord)['id']}/complete", json={"data": EVALUATION})
    assert failed.status_code == 422
    error = in_error(coord, instance)
    assert error["element"] == "notify_doctor"
    assert "au plus 100" in error["message"]
    assert "120" not in error["message"]  # computed from the form's data: not shown


def test_a_step_beyond_the_step_budget_goes_to_error_and_frees_the_thread(
    api_as,
    coordinator,
    world,  # noqa: F811
    app,
):
    dossier, *_ = world
    app.config["ENGINE_MAX_STEPS"] = 20
    deploy_as(policy.SYSTEM, looping('<bpmn:standardLoopCharacteristics loopMaximum="50"/>'))
    coord = api_as(coordinator)
    instance = started(coord, dossier)
    failed = coord.post(f"/tasks/{evaluation_of(coord)['id']}/complete", json={"data": EVALUATION})
    assert failed.status_code == 422
    error = in_error(coord, instance)
    assert "plus de 20 étapes" in error["message"]
    assert error["retry"] == "complete"  # the state is kept: an admin may retry it
    app.config["ENGINE_MAX_STEPS"] = 1000
    assert PathwayInstance.objects.get(id=instance).state


def test_a_step_beyond_the_time_budget_goes_to_error(
    api_as,
    coordinator,
    world,  # noqa: F811
    app,
    monkeypatch,
):
    dossier, *_ = world
    app.config["ENGINE_MAX_SECONDS"] = 5
    deploy_as(policy.SYSTEM, looping('<bpmn:standardLoopCharacteristics loopMaximum="50"/>'))
    coord = api_as(coordinator)
    instance = started(coord, dossier)
    ticks = iter(range(0, 10**6, 2))  # each reading of the clock: two seconds later
    monkeypatch.setattr(runtime, "monotonic", lambda: next(ticks))
    failed = coord.post(f"/tasks/{evaluation_of(coord)['id']}/complete", json={"data": EVALUATION})
    assert failed.status_code == 422
    assert "plus de 5 s" in in_error(coord, instance)["message"]


def test_timers_and_messages_that_fail_put_the_instance_in_error(
    api_as,
    coordinator,
    world,  # noqa: F811
):
    """The same failure reached by the worker's timers and by a BPMN message."""
    dossier, *_ = world
    reminder = variant(
        ('<bpmn:sequenceFlow id="f_relance" sourceRef="relance" targetRef="end_relance"/>',
         '<bpmn:sequenceFlow id="f_relance" sourceRef="relance" targetRef="rappel"/>'
         '<bpmn:serviceTask id="rappel" name="Rappel"><bpmn:extensionElements>'
         '<spiffworkflow:serviceTaskOperator id="notify"/></bpmn:extensionElements>'
         "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>absents"
         '</bpmn:loopDataInputRef><bpmn:inputDataItem id="absent"/>'
         "</bpmn:multiInstanceLoopCharacteristics></bpmn:serviceTask>"
         '<bpmn:sequenceFlow id="f_rappel" sourceRef="rappel" targetRef="end_relance"/>'),
    )  # fmt: skip
    deploy_as(policy.SYSTEM, reminder)
    coord = api_as(coordinator)
    instance = started(coord, dossier)
    evaluate(coord, gir=4)
    assert fire_due_timers(clock.utcnow() + timedelta(days=8)) == 0
    assert in_error(coord, instance)["element"] == "rappel"


def started_by_go(key):
    """A pathway `key` started by the message "go", whose first element fails (its input is
    missing)."""
    return variant(
        ('id="suivi_gir" name="Suivi GIR"', f'id="{key}" name="{key}"'),
        ('<bpmn:startEvent id="start"/>',
         '<bpmn:startEvent id="start"><bpmn:messageEventDefinition messageRef="m_go"/>'
         "</bpmn:startEvent>"),
        ('<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="evaluation"/>',
         '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="avant"/>'
         '<bpmn:serviceTask id="avant"><bpmn:extensionElements>'
         '<spiffworkflow:serviceTaskOperator id="notify"/></bpmn:extensionElements>'
         "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>absents"
         '</bpmn:loopDataInputRef><bpmn:inputDataItem id="absent"/>'
         "</bpmn:multiInstanceLoopCharacteristics></bpmn:serviceTask>"
         '<bpmn:sequenceFlow id="f1b" sourceRef="avant" targetRef="evaluation"/>'),
        ("<bpmn:flowNodeRef>start</bpmn:flowNodeRef>",
         "<bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>avant</bpmn:flowNodeRef>"),
        ("<bpmn:process ", '<bpmn:message id="m_go" name="go"/><bpmn:process '),
    )  # fmt: skip


def test_a_message_that_fails_to_start_a_pathway_writes_nothing(
    api_as,
    coordinator,
    world,  # noqa: F811
):
    dossier, *_ = world
    deploy_as(policy.SYSTEM, started_by_go("suivi_gir"))
    coord = api_as(coordinator)
    before = snapshot(EVERYTHING)
    sent = coord.post(f"/dossiers/{dossier.id}/events", json={"name": "go"})
    assert sent.status_code == 422
    assert "« absents »" in sent.json["error"]["message"]
    assert snapshot(EVERYTHING) == before


def test_a_message_is_refused_before_it_moves_a_waiting_instance(
    api_as,
    coordinator,
    world,  # noqa: F811
):
    """One pathway waits for "go", another one starts on it and fails: the message is refused
    as a whole (the waiting one moved, then 500 or 422 with no audit event)."""
    dossier, *_ = world
    deploy_as(policy.SYSTEM, variant(
        ('<bpmn:sequenceFlow id="f2" sourceRef="evaluation" targetRef="gw_gir"/>',
         '<bpmn:sequenceFlow id="f2" sourceRef="evaluation" targetRef="attente"/>'
         '<bpmn:intermediateCatchEvent id="attente">'
         '<bpmn:messageEventDefinition messageRef="m_go"/></bpmn:intermediateCatchEvent>'
         '<bpmn:sequenceFlow id="f2b" sourceRef="attente" targetRef="gw_gir"/>'),
        ("<bpmn:process ", '<bpmn:message id="m_go" name="go"/><bpmn:process '),
    ))  # fmt: skip
    deploy_as(policy.SYSTEM, started_by_go("lancement"))
    coord = api_as(coordinator)
    instance = started(coord, dossier)
    evaluate(coord, gir=4)
    assert PathwayInstance.objects.get(id=instance).status == "waiting"
    before = snapshot(EVERYTHING)
    sent = coord.post(f"/dossiers/{dossier.id}/events", json={"name": "go"})
    assert sent.status_code == 422
    assert snapshot(EVERYTHING) == before


# --- migration -------------------------------------------------------------------------------


def test_a_migration_the_engine_cannot_apply_is_refused_with_its_reason(
    api_as,
    coordinator,
    world,  # noqa: F811
    platform_admin,
):
    """The visit, where the instance waits, became a subprocess of the same id."""
    dossier, *_ = world
    coord = api_as(coordinator)
    instance = started(coord, dossier)
    evaluate(coord, gir=4)
    start, end = (
        BPMN.decode().index('<bpmn:userTask id="visite"'),
        BPMN.decode().index("</bpmn:userTask>", BPMN.decode().index('<bpmn:userTask id="visite"')),
    )
    user_task = BPMN.decode()[start : end + len("</bpmn:userTask>")]
    inner = user_task.replace('id="visite"', 'id="visite_faite"')
    deploy_as(policy.SYSTEM, variant(
        (user_task, '<bpmn:subProcess id="visite" name="Visite à domicile">'
         '<bpmn:startEvent id="v_start"/>'
         '<bpmn:sequenceFlow id="v1" sourceRef="v_start" targetRef="visite_faite"/>'
         f'{inner}<bpmn:sequenceFlow id="v2" sourceRef="visite_faite" targetRef="v_end"/>'
         '<bpmn:endEvent id="v_end"/></bpmn:subProcess>'),
    ))  # fmt: skip
    admin = api_as(platform_admin)
    before = snapshot(("pathway_instances", "tasks"))
    plan = admin.get("/pathways/suivi_gir/migration")
    assert plan.status_code == 200, plan.json
    [unsafe] = plan.json["unsafe"]
    assert unsafe["instance"] == instance
    assert "« Visite à domicile » (visite)" in unsafe["reasons"][0]
    moved = admin.post("/pathways/suivi_gir/migrate", json={})
    assert moved.status_code == 200
    assert moved.json["migrated"] == []
    assert moved.json["refused"][0]["reasons"] == unsafe["reasons"]
    assert snapshot(("pathway_instances", "tasks")) == before


def test_any_failure_of_the_engine_in_a_migration_is_a_reason(
    api_as,
    coordinator,
    world,  # noqa: F811
    platform_admin,
    monkeypatch,
):
    from app.engine import migration

    dossier, *_ = world
    started(api_as(coordinator), dossier)
    deploy_as(policy.SYSTEM, BPMN.replace(b'"P7D"', b'"P10D"'))

    def broken(diff, workflow, spec, reset_mask=None):
        raise KeyError("donnée")

    monkeypatch.setattr(migration, "migrate_workflow", broken)
    plan = api_as(platform_admin).get("/pathways/suivi_gir/migration")
    assert plan.status_code == 200
    [unsafe] = plan.json["unsafe"]
    assert unsafe["reasons"] == [
        "La version 2 ne peut pas reprendre ce parcours là où il en est (KeyError)."
    ]


# --- the BPMN file as its XML declaration says -----------------------------------------------


@pytest.mark.parametrize("encoding", ["ISO-8859-1", "UTF-16"])
def test_a_bpmn_in_another_encoding_deploys_as_declared(
    api_as,
    platform_admin,
    coordinator,
    world,  # noqa: F811
    encoding,
):
    dossier, *_ = world
    text = BPMN.decode().replace('encoding="UTF-8"', f'encoding="{encoding}"')
    text = text.replace("Suivi GIR", "Suivi GIR élargi")
    answer = deploy(api_as(platform_admin), text.encode(encoding))
    assert answer.status_code == 201, answer.json
    shown = api_as(platform_admin).get("/pathways/suivi_gir").json
    assert shown["name"] == "Suivi GIR élargi"
    assert shown["summary"]["user_tasks"][0]["name"] == "Évaluation multidimensionnelle"
    assert shown["bpmn"].startswith('<?xml version="1.0" encoding="UTF-8"?>')
    started(api_as(coordinator), dossier)


@pytest.mark.parametrize(
    "body",
    [
        BPMN.replace(b'encoding="UTF-8"', b'encoding="KLINGON"'),
        BPMN.decode().replace("Suivi GIR", "Suivi GIR élargi").encode("latin-1"),
    ],
    ids=["unknown encoding", "not the declared encoding"],
)
def test_a_bpmn_that_does_not_decode_is_refused_with_nothing_written(
    api_as, platform_admin, body, runner, tmp_path
):
    admin = api_as(platform_admin)
    before = snapshot(("pathways", "pathway_versions", "audit_events"))
    refused = deploy(admin, body)
    assert refused.status_code == 422
    assert refused.json["error"]["problems"]
    path = tmp_path / "p.bpmn"
    path.write_bytes(body)
    assert runner.invoke(cli, ["pathways", "deploy", str(path)]).exit_code == 1
    assert snapshot(("pathways", "pathway_versions", "audit_events")) == before


def test_the_page_deploys_a_latin_1_file(login_as, platform_admin, world):  # noqa: F811
    text = BPMN.decode().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    text = text.replace("Suivi GIR", "Suivi GIR élargi")
    done = login_as(platform_admin).post(
        "/parcours/deployer",
        {"bpmn": (io.BytesIO(text.encode("latin-1")), "p.bpmn")},
        content_type="multipart/form-data",
    )
    assert done.status_code == 302
    assert PathwayVersion.objects.get(version=2).name == "Suivi GIR élargi"


# --- what was written is audited, whatever fails after it ------------------------------------


def test_a_start_that_fails_after_its_write_is_audited(
    api_as,
    coordinator,
    world,  # noqa: F811
    monkeypatch,
):
    dossier, *_ = world

    def broken(*args, **kwargs):
        raise RuntimeError("panne après l'écriture")

    monkeypatch.setattr(steps, "sync_tasks", broken)
    with pytest.raises(RuntimeError):
        api_as(coordinator).post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    instance = PathwayInstance.objects.get()
    assert AuditEvent.objects(action="pathway.start", object_id=str(instance.id)).count() == 1


def test_a_completion_that_fails_after_its_write_is_audited(
    api_as,
    coordinator,
    world,  # noqa: F811
    monkeypatch,
):
    dossier, *_ = world
    coord = api_as(coordinator)
    started(coord, dossier)
    step = evaluation_of(coord)

    def broken(*args, **kwargs):
        raise RuntimeError("panne après l'écriture")

    monkeypatch.setattr(steps, "settle", broken)
    with pytest.raises(RuntimeError):
        coord.post(f"/tasks/{step['id']}/complete", json={"data": EVALUATION})
    assert AuditEvent.objects(action="task.complete", object_id=step["id"]).count() == 1


def test_timers_fired_by_the_worker_are_audited(api_as, coordinator, world):  # noqa: F811
    dossier, *_ = world
    coord = api_as(coordinator)
    instance = started(coord, dossier)
    evaluate(coord, gir=4)
    assert fire_due_timers(clock.utcnow() + timedelta(days=8)) == 1
    [event] = AuditEvent.objects(action="pathway.timers", object_id=instance)
    assert event.details["fired"] == ["relance"]
