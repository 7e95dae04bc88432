"""What a pathway or a form is for (issue 17): a patient's dossier, or a process of the platform
itself (account verification). A platform process never starts on a dossier and its internal
form is never filed on one; a structure's own pathways and forms serve only the dossiers it
coordinates. The start list and the form picker of a dossier offer only what may be used there.
"""

from pathlib import Path

import pytest
from dossier_helpers import new_dossier
from helpers import html, snapshot
from test_pathway_instances import world  # noqa: F401
from test_pathway_worker import SORTIE, START_BY_MESSAGE
from test_pathways import BPMN

from app import policy
from app.demo import deploy_shipped_workflows
from app.dossiers import circle
from app.engine.runtime import Runtime
from app.formkit.models import Form
from app.formkit.services import create_form, sync_directory
from app.pathways import instances, steps
from app.pathways.models import Pathway, PathwayInstance, Task
from app.pathways.services import deploy
from app.validation import InvalidInput

XML = {"Content-Type": "application/xml"}
WRITES = ("pathway_instances", "tasks", "entries", "timeline")
DECISION = {"decision": "refuser", "motif": "Inconnu de nos services."}
PLATFORM = '<spiffworkflow:property name="purpose" value="platform"/>'


def with_purpose(bpmn, purpose="platform"):
    """`bpmn` (bytes) with the main process's purpose property."""
    head = b'<bpmn:process id="suivi_gir" name="Suivi GIR" isExecutable="true">'
    assert head in bpmn
    prop = (
        "<bpmn:extensionElements><spiffworkflow:properties>"
        f'<spiffworkflow:property name="purpose" value="{purpose}"/>'
        "</spiffworkflow:properties></bpmn:extensionElements>"
    )
    return bpmn.replace(head, head + prop.encode())


@pytest.fixture
def shipped(app, world):  # noqa: F811
    """The shipped forms and pathways (demande_compte, verification_compte included)."""
    deploy_shipped_workflows()  # after `world` has synced the forms and deployed suivi_gir
    return world


@pytest.fixture
def social_worker(make_user, structure, coordinator, shipped):
    """A social worker of the dossier's circle: they may write administrative data."""
    dossier = shipped[0]
    worker = make_user(structure, profession="assistant_social", name="Assistante Sociale")
    member = {"user": str(worker.id), "care_role": "assistant_social"}
    circle.add_member(coordinator, dossier, member)
    dossier.reload()
    return worker


def test_a_coordinator_cannot_start_a_platform_process_on_a_dossier(
    api_as, login_as, coordinator, shipped
):
    dossier = shipped[0]
    assert Pathway.objects.get(key="demande_compte").purpose == "platform"
    before = snapshot(WRITES)
    refused = api_as(coordinator).post(
        f"/dossiers/{dossier.id}/pathways", json={"pathway": "demande_compte"}
    )
    assert refused.status_code == 403
    assert refused.json["error"]["message"] == (
        "« Vérification d'une demande de compte » est un processus interne de la plateforme : "
        "il ne démarre pas sur un dossier."
    )
    web = login_as(coordinator)
    page = html(web.get(f"/dossiers/{dossier.id}/parcours"))
    assert 'value="suivi_gir"' in page
    assert 'value="demande_compte"' not in page
    posted = web.post(f"/dossiers/{dossier.id}/parcours", {"pathway": "demande_compte"})
    assert posted.status_code == 403
    assert snapshot(WRITES) == before


def test_a_platform_process_started_on_a_dossier_before_is_nobodys_to_take(
    api_as, login_as, coordinator, platform_admin, shipped
):
    """What the attack left behind: a platform step on a dossier. The platform admins do not
    see it (it would show them the patient), and a claim changes nothing."""
    dossier = shipped[0]
    version = steps.version_of(PathwayInstance(pathway="demande_compte", version=1))
    engine = Runtime.for_version(version).start({})
    steps.create(coordinator, dossier, version, engine)
    task = Task.objects.get(pathway="demande_compte")
    assert (task.platform, task.dossier) == (1, dossier.id)
    admin = api_as(platform_admin)
    assert admin.get("/tasks?scope=available").json["items"] == []
    assert admin.get(f"/tasks/{task.id}").status_code == 404
    before = snapshot(("tasks", "dossiers"))
    assert admin.post(f"/tasks/{task.id}/claim").status_code == 404
    assert snapshot(("tasks", "dossiers")) == before
    assert login_as(platform_admin).get(f"/taches/{task.id}").status_code == 404


def test_a_social_worker_cannot_file_the_platforms_internal_form(
    api_as, login_as, social_worker, shipped
):
    dossier = shipped[0]
    assert Form.objects.get(key="verification_compte").purpose == "platform"
    before = snapshot(WRITES)
    body = {"form": "verification_compte", "data": DECISION, "visibility": "shared"}
    refused = api_as(social_worker).post(f"/dossiers/{dossier.id}/entries", json=body)
    assert refused.status_code == 403
    assert refused.json["error"]["message"] == (
        "« Vérification d'une demande de compte » est un formulaire interne de la plateforme : "
        "il ne se remplit pas sur un dossier."
    )
    web = login_as(social_worker)
    picker = html(web.get(f"/dossiers/{dossier.id}/formulaires"))
    assert "/formulaires/cloture_parcours" in picker  # a patient form they may write
    assert "verification_compte" not in picker
    assert web.get(f"/dossiers/{dossier.id}/formulaires/verification_compte").status_code == 403
    posted = web.post(
        f"/dossiers/{dossier.id}/formulaires/verification_compte",
        {"decision": "refuser", "motif": "x", "visibility": "shared"},
    )
    assert posted.status_code == 403
    assert snapshot(WRITES) == before


@pytest.fixture
def elsewhere(app, other_structure, shipped):
    """A pathway and a form of another structure, with a message start event."""
    create_form(
        policy.SYSTEM,
        {
            "key": "bilan_autre",
            "title": "Bilan de l'autre structure",
            "category": "social",
            "structure": other_structure.key,
            "schema": {"type": "object", "properties": {"note": {"type": "string"}}},
        },
    )
    other = BPMN.replace(b'id="suivi_gir" name="Suivi GIR"', b'id="suivi_autre" name="Suivi autre"')
    deploy(policy.SYSTEM, other, structure=other_structure.key)
    deploy(policy.SYSTEM, START_BY_MESSAGE.encode(), structure=other_structure.key)
    return shipped


def test_another_structures_pathways_and_forms_are_not_offered_here(
    api_as, login_as, coordinator, social_worker, elsewhere
):
    dossier = elsewhere[0]
    before = snapshot(WRITES)
    coord = api_as(coordinator)
    refused = coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_autre"})
    assert refused.status_code == 403
    assert "parcours d'une autre structure" in refused.json["error"]["message"]
    page = html(login_as(coordinator).get(f"/dossiers/{dossier.id}/parcours"))
    assert 'value="suivi_autre"' not in page
    body = {"form": "bilan_autre", "data": {"note": "x"}, "visibility": "shared"}
    refused = api_as(social_worker).post(f"/dossiers/{dossier.id}/entries", json=body)
    assert refused.status_code == 403
    assert "formulaire d'une autre structure" in refused.json["error"]["message"]
    picker = html(login_as(social_worker).get(f"/dossiers/{dossier.id}/formulaires"))
    assert "bilan_autre" not in picker
    assert snapshot(WRITES) == before
    # A message to the dossier does not start the other structure's pathway that begins
    # with it (the platform's own sortie_hospitalisation does).
    nurse = elsewhere[2]
    sent = api_as(nurse).post(f"/dossiers/{dossier.id}/events", json=SORTIE)
    [started] = sent.json["started"]
    assert PathwayInstance.objects.get(id=started).pathway == "sortie_hospitalisation"
    assert PathwayInstance.objects(pathway="accueil_sortie").count() == 0


def test_a_message_starts_no_platform_process(api_as, shipped):
    dossier, _, nurse = shipped
    head = b'<bpmn:process id="accueil_sortie" isExecutable="true">'
    platform_start = START_BY_MESSAGE.encode().replace(
        head,
        head + b"<bpmn:extensionElements><spiffworkflow:properties>" + PLATFORM.encode()
        + b"</spiffworkflow:properties></bpmn:extensionElements>",
    )  # fmt: skip
    assert deploy(policy.SYSTEM, platform_start)[0].purpose == "platform"
    sent = api_as(nurse).post(f"/dossiers/{dossier.id}/events", json=SORTIE)
    assert sent.status_code == 200
    assert PathwayInstance.objects(pathway="accueil_sortie").count() == 0


def test_the_own_structures_and_the_platforms_are_offered(
    api_as, login_as, coordinator, structure, elsewhere
):
    dossier = elsewhere[0]
    mine = BPMN.replace(b'id="suivi_gir" name="Suivi GIR"', b'id="suivi_dac" name="Suivi DAC"')
    deploy(policy.SYSTEM, mine, structure=structure.key)
    page = html(login_as(coordinator).get(f"/dossiers/{dossier.id}/parcours"))
    assert 'value="suivi_dac"' in page
    assert 'value="suivi_gir"' in page
    started = api_as(coordinator).post(
        f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_dac"}
    )
    assert started.status_code == 201, started.json


# --- a pathway's steps: only the forms that may be filed where it runs ------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ((b'value="compte_rendu_visite_domicile"', b'value="verification_compte"'),
         "Le formulaire « verification_compte » est réservé aux processus de la plateforme : "
         "il ne se remplit pas sur un dossier."),
        ((b'name="medecin_traitant"', b'name="equipe_plateforme"'),
         "Le couloir « equipe_plateforme » est réservé aux processus de la plateforme "
         "(propriété purpose = platform)."),
    ],
)  # fmt: skip
def test_a_patient_pathway_cannot_use_what_platform_processes_use(
    api_as, platform_admin, shipped, change, message
):
    api = api_as(platform_admin)
    body = BPMN.replace(*change)
    refused = api.client.post("/api/v1/pathways", data=body, headers={**api.headers, **XML})
    assert refused.status_code == 422
    assert message in [p["message"] for p in refused.json["error"]["problems"]]


def test_a_structures_pathway_names_only_its_own_and_the_platforms_forms(
    api_as, structure_admin, elsewhere
):
    api = api_as(structure_admin)
    body = BPMN.replace(b'value="compte_rendu_visite_domicile"', b'value="bilan_autre"')
    refused = api.client.post(
        "/api/v1/pathways?structure=dac-test", data=body, headers={**api.headers, **XML}
    )
    assert refused.status_code == 422
    assert "Formulaire inconnu : « bilan_autre »." in [
        p["message"] for p in refused.json["error"]["problems"]
    ]


def test_a_step_whose_form_may_not_be_filed_is_refused_before_anything_is_written(
    api_as, coordinator, shipped
):
    """A pathway deployed before the rule named the internal form: completing its step on a
    dossier is refused, and nothing of the step is written (was: state moved, then 403)."""
    dossier = shipped[0]
    Form.objects(key="verification_compte").update_one(set__purpose="patient")
    legacy = BPMN.replace(b'value="evaluation_multidimensionnelle"', b'value="verification_compte"')
    legacy = legacy.replace(b'evaluation_multidimensionnelle["gir"] &lt;= 2', b"False")
    legacy = legacy.replace(b"evaluation_multidimensionnelle['gir']", b"1")
    deploy(policy.SYSTEM, legacy)
    Form.objects(key="verification_compte").update_one(set__purpose="platform")
    coord = api_as(coordinator)
    coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    [step] = coord.get("/tasks").json["items"]
    before = snapshot(WRITES)
    refused = coord.post(f"/tasks/{step['id']}/complete", json={"data": DECISION})
    assert refused.status_code == 403
    assert snapshot(WRITES) == before


# --- declaring the purpose: the form's file or API, the BPMN --------------------------------


def test_a_platform_admin_declares_an_internal_form_through_the_api(api_as, platform_admin, app):
    api = api_as(platform_admin)
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    body = {"key": "controle_interne", "title": "Contrôle", "category": "administratif",
            "purpose": "platform", "schema": schema}  # fmt: skip
    assert api.post("/forms", json=body).status_code == 201
    assert api.get("/forms/controle_interne").json["purpose"] == "platform"
    owned = api.post("/forms", json={**body, "key": "controle_dac", "structure": "dac-test"})
    assert owned.status_code in (404, 422)
    bad = api.post("/forms", json={**body, "key": "controle_x", "purpose": "interne"})
    assert bad.status_code == 422
    assert "/purpose" in bad.json["error"]["fields"]


def test_an_internal_form_belongs_to_no_structure(api_as, structure_admin, structure):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    body = {"key": "controle_dac", "title": "Contrôle", "category": "administratif",
            "purpose": "platform", "schema": schema, "structure": structure.key}  # fmt: skip
    refused = api_as(structure_admin).post("/forms", json=body)
    assert refused.status_code == 422
    assert refused.json["error"]["fields"]["/purpose"].startswith(
        "Un formulaire interne de la plateforme est commun à toute la plateforme"
    )
    assert Form.objects(key="controle_dac").count() == 0


def test_the_new_form_page_sets_the_purpose(login_as, platform_admin):
    web = login_as(platform_admin)
    page = html(web.get("/formulaires/nouveau"))
    assert 'name="purpose"' in page
    created = web.post(
        "/formulaires/nouveau",
        {"key": "controle_web", "title": "Contrôle", "category": "administratif",
         "structure": "", "purpose": "platform"},
    )  # fmt: skip
    assert created.status_code == 302, html(created)
    assert Form.objects.get(key="controle_web").purpose == "platform"


def test_sync_marks_the_shipped_internal_form(app):
    forms = Path(app.root_path).parent / "forms"
    sync_directory(forms)
    Form.objects(key="verification_compte").update_one(set__purpose="patient")  # as before
    sync_directory(forms)
    assert Form.objects.get(key="verification_compte").purpose == "platform"
    assert Form.objects.get(key="ppcs").purpose == "patient"


def test_the_bpmn_declares_a_pathways_purpose(api_as, platform_admin, structure_admin, shipped):
    api = api_as(platform_admin)
    pathways = {p["key"]: p["purpose"] for p in api.get("/pathways").json["items"]}
    assert (pathways["demande_compte"], pathways["suivi_gir"]) == ("platform", "patient")
    assert api.get("/pathways/demande_compte").json["purpose"] == "platform"
    # A structure cannot own a platform process.
    sadmin = api_as(structure_admin)
    body = with_purpose(BPMN.replace(b'value="compte_rendu_visite_domicile"',
                                     b'value="evaluation_multidimensionnelle"'))  # fmt: skip
    body = body.replace(b'id="suivi_gir"', b'id="suivi_prive"')
    body = body.replace(b'name="Suivi GIR" isExecutable', b'name="Suivi prive" isExecutable')
    refused = sadmin.client.post(
        "/api/v1/pathways?structure=dac-test", data=body, headers={**sadmin.headers, **XML}
    )
    assert refused.status_code == 422
    assert any("ne peut pas appartenir à une structure" in p["message"]
               for p in refused.json["error"]["problems"])  # fmt: skip
    unknown = with_purpose(BPMN, "interne")
    refused = api.client.post("/api/v1/pathways", data=unknown, headers={**api.headers, **XML})
    assert "Finalité inconnue : « interne » (patient ou platform)." in [
        p["message"] for p in refused.json["error"]["problems"]
    ]


def test_only_platform_processes_run_off_a_dossier(shipped):
    with pytest.raises(InvalidInput):
        instances.start_for_subject(policy.SYSTEM, "suivi_gir", "account_request:x")
    assert PathwayInstance.objects(subject="account_request:x").count() == 0


def test_a_new_dossier_of_another_structure_is_not_offered_its_neighbours_forms(
    login_as, make_user, other_structure, elsewhere
):
    """The other structure's own coordinator does get its form and pathway."""
    theirs = make_user(other_structure, roles=["coordinator"], profession="coordinateur")
    dossier = new_dossier(theirs, other_structure)
    web = login_as(theirs)
    assert 'value="suivi_autre"' in html(web.get(f"/dossiers/{dossier.id}/parcours"))
    assert "bilan_autre" in html(web.get(f"/dossiers/{dossier.id}/formulaires"))


def test_the_modeler_offers_the_purpose_to_platform_admins_only(
    login_as, platform_admin, structure_admin, shipped
):
    page = html(login_as(platform_admin).get("/parcours/nouveau"))
    assert 'id="p-purpose"' in page
    assert '"key": "equipe_plateforme"' in page  # the platform team's lane, for its processes
    assert 'id="p-purpose"' in html(
        login_as(platform_admin).get("/parcours/demande_compte/modifier")
    )
    mine = html(login_as(structure_admin).get("/parcours/nouveau"))
    assert 'id="p-purpose"' not in mine
    assert '"key": "equipe_plateforme"' not in mine
