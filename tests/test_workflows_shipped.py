"""The pathways shipped in workflows/: deployed as the demo deploys them, then driven end to end
through the API by the people of a dossier's circle of care, every branch of every gateway
taken; timers fired by the worker, the hospital's messages sent through the events API."""

import html
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from dossier_helpers import new_dossier
from test_forms_render import Page, shipped

from app import policy, signals
from app.cli import cli
from app.clock import PARIS, utcnow
from app.demo import deploy_shipped_workflows
from app.dossiers import circle
from app.dossiers.models import Entry
from app.formkit.coerce import coerce
from app.formkit.render import render_form
from app.formkit.schema import validate_data
from app.formkit.services import sync_directory
from app.pathways.models import Pathway, PathwayVersion
from app.pathways.services import get_version
from app.pathways.worker import fire_due_timers
from app.shipped import workflows_folder as shipped_workflows

# --- valid submissions of each form, as the people of the circle would fill them --------------

SIGNALEMENT = {
    "demandeur": {
        "type_demandeur": "medecin_traitant",
        "nom": "Dr Anne Dupuis",
        "telephone": "05 61 00 00 02",
    },
    "personne": {"nom": "Lefèbvre", "prenoms": "Jeanne Marie", "date_naissance": "1941-03-12"},
    "difficultes": ["sante", "isolement", "aidant_epuise"],
    "urgence": "sous_huit_jours",
    "consentement_obtenu": True,
    "consentement_mode": "oral",
    "description_situation": "Chutes répétées, vit seule, fille épuisée.",
}
RETENUE = {
    "date_analyse": "2026-11-28",
    "contacts_pris": ["demandeur", "personne"],
    "elements_complexite": ["sante", "isolement", "epuisement_aidant"],
    "decision": "retenue",
}
SANS_SUITE = {
    "date_analyse": "2026-11-28",
    "decision": "sans_suite",
    "motif": "Situation déjà suivie par l'équipe de soins primaires.",
}
EVALUATION = {
    "date_evaluation": "2026-12-02",
    "lieu_evaluation": "domicile",
    "gir": 3,
    "synthese": {"analyse": "Isolement, chutes, aidante épuisée.", "suites_proposees": ["ppcs"]},
}
NOT_COMPLEX = {
    **EVALUATION,
    "gir": 4,
    "synthese": {"analyse": "Aides à renforcer.", "suites_proposees": ["aides_domicile"]},
}
PPCS = {
    "date_elaboration": "2026-12-05",
    "objectifs": "Sécuriser le domicile ; soulager l'aidante.",
    "actions": [{"action": "Passage infirmier quotidien", "statut": "a_faire"}],
    "date_reevaluation": "2027-03-05",
    "accord_personne": True,
}
REFUSED = {"decision": "refuse", "commentaire": "Ajouter le kinésithérapeute au plan."}
APPROVED = {"decision": "valide", "recueil": "parcours"}
REVIEW = {"date_revue": "2027-03-05", "evolution": "stable", "decision": "poursuivre"}
LAST_REVIEW = {"date_revue": "2027-06-05", "evolution": "amelioration", "decision": "clore"}
CLOSING = {
    "date_cloture": "2027-06-10",
    "motif": "objectifs_atteints",
    "relais": "Médecin traitant et SSIAD.",
    "personne_informee": True,
}
FICHE = {
    "etablissement": "CHU de Toulouse — Hôpital Purpan",
    "service": "Médecine gériatrique",
    "date_entree": "2026-11-20",
    "date_sortie": "2026-12-01",
    "destination": "domicile",
    "motif": "Décompensation cardiaque",
    "traitements_sortie": "Furosémide 40 mg le matin",
    "contact_referent": {"nom": "Dr Morel", "telephone": "05 61 77 00 00"},
}
VISITE = {
    "date_visite": "2026-12-02",
    "personne_vue": True,
    "soins_realises": ["constantes", "pilulier"],
    "traitement_disponible": True,
}
CONCILIATION = {
    "date_conciliation": "2026-12-02",
    "sources": ["ordonnance_sortie", "dossier_pharmaceutique"],
    "divergences": True,
    "divergences_detail": "Bisoprolol arrêté à l'hôpital, toujours délivré : médecin prévenu.",
    "medecin_contacte": True,
}
BILAN = {"date_bilan": "2026-12-04", "retour_securise": True, "suite": "suivi_habituel"}


@pytest.fixture
def world(app, api_as, coordinator, structure, make_user, other_structure):
    """A dossier of the DAC with its circle of care; every shipped pathway deployed."""
    sync_directory(Path(app.root_path).parent / "forms")
    deploy_shipped_workflows()
    dossier = new_dossier(coordinator, structure)
    people = {
        "medecin_traitant": make_user(other_structure, profession="10", name="Dr Traitant"),
        "infirmier": make_user(other_structure, profession="60", name="Infirmier Libéral"),
        "pharmacien": make_user(other_structure, profession="21", name="Pharmacienne"),
        "medecin_specialiste": make_user(other_structure, profession="10", name="Dr Hôpital"),
    }
    for role, user in people.items():
        circle.add_member(coordinator, dossier, {"user": str(user.id), "care_role": role})
    dossier.reload()
    return SimpleNamespace(
        dossier=dossier,
        coord=api_as(coordinator),
        gp=api_as(people["medecin_traitant"]),
        nurse=api_as(people["infirmier"]),
        pharmacist=api_as(people["pharmacien"]),
        hospital=api_as(people["medecin_specialiste"]),
        users={"coordinateur": coordinator, **people},
    )


def start(world, pathway):
    started = world.coord.post(f"/dossiers/{world.dossier.id}/pathways", json={"pathway": pathway})
    assert started.status_code == 201, started.json
    return started.json["instance"]


def complete(api, form_key, data):
    """Do the one open task of `api`'s user that asks for `form_key`; return it."""
    [task] = [t for t in api.get("/tasks").json["items"] if t["form_key"] == form_key]
    shown = api.get(f"/tasks/{task['id']}").json
    assert shown["form"]["key"] == form_key
    done = api.post(f"/tasks/{task['id']}/complete", json={"data": data})
    assert done.status_code == 200, done.json
    assert done.json["status"] == "completed"
    return done.json


def open_tasks(world, instance):
    tasks = world.coord.get(f"/instances/{instance}").json["tasks"]
    return sorted((t["title"], t["care_role"]) for t in tasks if t["status"] == "open")


def status(world, instance):
    return world.coord.get(f"/instances/{instance}").json["status"]


def submitted_forms(world):
    entries = Entry.objects(dossier=world.dossier.id, kind="form").order_by("created_at")
    return [entry.form for entry in entries]


@pytest.fixture
def notifications():
    """The `notify` service tasks that ran, as the inbox receives them."""
    calls = []

    def record(instance, dossier, call, **extra):
        calls.append(call)

    with signals.service_called.connected_to(record):
        yield calls


def later(**delta):
    return utcnow() + timedelta(**delta)


# The forms added for the steps of the shipped pathways, with what their steps submit.
STEP_FORMS = {
    "analyse_demande": SANS_SUITE,
    "validation_ppcs": REFUSED,
    "revue_periodique": REVIEW,
    "cloture_parcours": CLOSING,
    "verification_infirmier": VISITE,
    "conciliation_medicamenteuse": CONCILIATION,
    "bilan_retour_domicile": BILAN,
}


@pytest.mark.parametrize("key", sorted(STEP_FORMS))
def test_the_forms_of_the_steps_work_in_the_browser(key):
    schema, ui = shipped(key)
    validate_data(f"test-{key}", 1, schema, STEP_FORMS[key])
    page = Page(render_form(schema, ui, STEP_FORMS[key]))
    assert coerce(schema, page.form()) == STEP_FORMS[key]
    labelled = {attrs["for"] for attrs in page.tags("label")}
    controls = page.tags("input") + page.tags("select") + page.tags("textarea")
    assert all(attrs["id"] in labelled for attrs in controls if attrs.get("type") != "hidden")


# --- deployment -----------------------------------------------------------------------------

STRUCTURE = {
    "demande_compte": {
        "user_tasks": [
            ("verification", "equipe_plateforme", "verification_compte", "P2D"),
        ],
        "timers": [("relance", "duration", '"P2D"'), ("sans_reponse", "duration", '"P30D"')],
        "service_tasks": ["rappel"],
        "messages": {"start": [], "catch": ["complements_demande_compte"]},
    },
    "parcours_complexe": {
        "user_tasks": [
            ("signalement", "coordinateur", "demande_appui_dac", "P2D"),
            ("analyse", "coordinateur", "analyse_demande", "P5D"),
            ("evaluation", "coordinateur", "evaluation_multidimensionnelle", "P15D"),
            ("ppcs", "coordinateur", "ppcs", "P15D"),
            ("validation_medecin", "medecin_traitant", "validation_ppcs", "P7D"),
            ("validation_coordination", "coordinateur", "validation_ppcs", "P3D"),
            ("revue", "coordinateur", "revue_periodique", "P15D"),
            ("cloture", "coordinateur", "cloture_parcours", "P7D"),
        ],
        "timers": [
            ("relance_7j", "duration", '"P7D"'),
            ("escalade_14j", "duration", '"P14D"'),
            ("attente_revue", "duration", '"P3M"'),
        ],
        "service_tasks": ["relance_medecin", "alerte_coordination"],
        "messages": {"start": [], "catch": []},
    },
    "sortie_hospitalisation": {
        "user_tasks": [
            ("fiche_prevue", "coordinateur", "fiche_liaison_sortie_hospitalisation", "P2D"),
            ("fiche_sortie", "coordinateur", "fiche_liaison_sortie_hospitalisation", "P1D"),
            ("visite_infirmiere", "infirmier", "verification_infirmier", "P2D"),
            ("conciliation", "pharmacien", "conciliation_medicamenteuse", "P3D"),
            ("verification", "coordinateur", "bilan_retour_domicile", "P2D"),
        ],
        "timers": [
            (
                "jour_de_sortie",
                "date",
                'fiche_liaison_sortie_hospitalisation["date_sortie"] + "T20:00:00+01:00"',
            )
        ],
        "service_tasks": [],
        "messages": {"start": ["sortie_hospitalisation"], "catch": ["sortie_hospitalisation"]},
    },
}


def test_every_shipped_pathway_is_deployed_once_by_the_demo(app, runner):
    sync_directory(Path(app.root_path).parent / "forms")
    files = sorted(shipped_workflows().glob("*.bpmn"))
    assert {path.stem for path in files} == set(STRUCTURE)
    assert deploy_shipped_workflows() == [path.stem for path in files]
    assert deploy_shipped_workflows() == []  # unchanged files: no new version
    assert PathwayVersion.objects.count() == len(files)
    for path in files:
        result = runner.invoke(cli, ["pathways", "deploy", str(path)])
        assert result.exit_code == 0, result.output
        assert f"{path.stem}: unchanged, version 1" in result.output
        _, version = get_version(policy.SYSTEM, path.stem)
        assert version.trusted == 1
        assert Pathway.objects.get(key=path.stem).owner is None  # the whole platform's


@pytest.mark.parametrize("key", sorted(STRUCTURE))
def test_the_structure_of_each_pathway(world, key):
    summary = get_version(policy.SYSTEM, key)[1].summary
    expected = STRUCTURE[key]
    steps = [(t["id"], t["lane"], t["form_key"], t["due_in"]) for t in summary["user_tasks"]]
    assert steps == expected["user_tasks"]
    assert all(t["name"] for t in summary["user_tasks"])  # French titles for the inboxes
    assert [(t["id"], t["kind"], t["expression"]) for t in summary["timers"]] == expected["timers"]
    assert [t["id"] for t in summary["service_tasks"]] == expected["service_tasks"]
    assert {t["operator"] for t in summary["service_tasks"]} <= {"notify"}
    assert summary["messages"] == expected["messages"]


def test_the_demo_deploys_the_shipped_pathways(runner):
    assert runner.invoke(cli, ["demo"]).exit_code == 0
    assert sorted(Pathway.objects.scalar("key")) == sorted(STRUCTURE)
    assert runner.invoke(cli, ["demo"]).exit_code == 0
    assert PathwayVersion.objects.count() == len(STRUCTURE)


# --- parcours_complexe ----------------------------------------------------------------------


def test_a_request_the_dac_does_not_retain_is_closed(world):
    instance = start(world, "parcours_complexe")
    complete(world.coord, "demande_appui_dac", SIGNALEMENT)
    complete(world.coord, "analyse_demande", SANS_SUITE)  # "Demande retenue ?" no
    assert open_tasks(world, instance) == [("Clôturer le parcours", "coordinateur")]
    closing = {**CLOSING, "motif": "demande_non_retenue", "date_cloture": "2026-11-28"}
    complete(world.coord, "cloture_parcours", closing)
    assert status(world, instance) == "completed"
    assert submitted_forms(world) == ["demande_appui_dac", "analyse_demande", "cloture_parcours"]


def test_a_situation_that_is_not_complex_is_oriented_then_closed(world):
    instance = start(world, "parcours_complexe")
    complete(world.coord, "demande_appui_dac", SIGNALEMENT)
    complete(world.coord, "analyse_demande", RETENUE)
    complete(world.coord, "evaluation_multidimensionnelle", NOT_COMPLEX)  # complex? no
    assert open_tasks(world, instance) == [("Clôturer le parcours", "coordinateur")]
    complete(world.coord, "cloture_parcours", {**CLOSING, "motif": "situation_non_complexe"})
    assert status(world, instance) == "completed"
    assert "ppcs" not in submitted_forms(world)


def test_a_complex_situation_from_the_report_to_the_closing(world, notifications):
    """PPCS refused then approved by the GP, a review every three months until it says to
    close: every step done by the member holding its lane's role."""
    instance = start(world, "parcours_complexe")
    complete(world.coord, "demande_appui_dac", SIGNALEMENT)
    complete(world.coord, "analyse_demande", RETENUE)
    complete(world.coord, "evaluation_multidimensionnelle", EVALUATION)  # PPCS proposed
    complete(world.coord, "ppcs", PPCS)
    gp_id = str(world.users["medecin_traitant"].id)
    [validation] = world.gp.get("/tasks").json["items"]
    assert (validation["title"], validation["assignee"]) == ("Valider le PPCS", gp_id)
    assert validation["due_at"] is not None
    # Nobody but the GP may validate the plan.
    refused = world.coord.post(f"/tasks/{validation['id']}/complete", json={"data": APPROVED})
    assert refused.status_code in (403, 404)
    # A refusal needs a comment, then sends the plan back to the coordinator.
    missing = world.gp.post(
        f"/tasks/{validation['id']}/complete", json={"data": {"decision": "refuse"}}
    )
    assert missing.status_code == 422
    assert "/data/commentaire" in missing.json["error"]["fields"]
    complete(world.gp, "validation_ppcs", REFUSED)
    assert open_tasks(world, instance) == [("Élaborer le PPCS", "coordinateur")]
    complete(world.coord, "ppcs", {**PPCS, "objectifs": "Idem, avec kinésithérapie."})
    complete(world.gp, "validation_ppcs", APPROVED)
    # Follow-up: nothing to do before the review, three months later.
    assert open_tasks(world, instance) == []
    assert status(world, instance) == "waiting"
    assert fire_due_timers(later(days=30)) == 0
    assert fire_due_timers(later(days=93)) == 1
    complete(world.coord, "revue_periodique", REVIEW)  # poursuivre: three more months
    assert open_tasks(world, instance) == []
    assert fire_due_timers(later(days=93)) == 1
    complete(world.coord, "revue_periodique", LAST_REVIEW)  # clore
    complete(world.coord, "cloture_parcours", CLOSING)
    assert status(world, instance) == "completed"
    assert notifications == []  # the GP answered in time: no reminder
    assert submitted_forms(world) == [
        "demande_appui_dac", "analyse_demande", "evaluation_multidimensionnelle", "ppcs",
        "validation_ppcs", "ppcs", "validation_ppcs", "revue_periodique", "revue_periodique",
        "cloture_parcours",
    ]  # fmt: skip
    validations = Entry.objects(dossier=world.dossier.id, form="validation_ppcs")
    assert {str(entry.author) for entry in validations} == {gp_id}


def test_the_gp_is_reminded_after_7_days_and_the_coordinator_takes_over_after_14(
    world, notifications
):
    instance = start(world, "parcours_complexe")
    complete(world.coord, "demande_appui_dac", SIGNALEMENT)
    complete(world.coord, "analyse_demande", RETENUE)
    # GIR 2 makes the situation complex even without a PPCS proposed
    complete(
        world.coord,
        "evaluation_multidimensionnelle",
        {**EVALUATION, "gir": 2, "synthese": {"analyse": "Dépendance lourde."}},
    )
    complete(world.coord, "ppcs", PPCS)
    [validation] = world.gp.get("/tasks").json["items"]
    assert fire_due_timers(later(days=6)) == 0
    assert fire_due_timers(later(days=7, hours=1)) == 1
    assert [(c["operator"], c["params"]["role"]) for c in notifications] == [
        ("notify", "medecin_traitant")
    ]
    # A reminder, not a takeover: the GP's task is still theirs.
    assert [t["id"] for t in world.gp.get("/tasks").json["items"]] == [validation["id"]]
    assert fire_due_timers(later(days=14, hours=1)) == 1
    assert [c["params"]["role"] for c in notifications] == ["medecin_traitant", "coordinateur"]
    assert "14 jours" in notifications[1]["params"]["message"]
    assert world.gp.get("/tasks").json["items"] == []
    assert open_tasks(world, instance) == [("Recueillir la décision du médecin", "coordinateur")]
    late = world.gp.post(f"/tasks/{validation['id']}/complete", json={"data": APPROVED})
    assert late.status_code in (404, 409)
    # The coordinator phones the GP and records the answer.
    complete(world.coord, "validation_ppcs", {**APPROVED, "recueil": "telephone"})
    assert open_tasks(world, instance) == []
    assert status(world, instance) == "waiting"  # the review in three months
    assert fire_due_timers(later(days=93)) == 1
    assert open_tasks(world, instance) == [("Revue périodique du PPCS", "coordinateur")]


# --- sortie_hospitalisation -----------------------------------------------------------------


def returns_home(world, instance):
    """The nurse and the pharmacist, in parallel, then the coordinator's check."""
    assert open_tasks(world, instance) == [
        ("Conciliation médicamenteuse", "pharmacien"),
        ("Visite infirmière de retour à domicile", "infirmier"),
    ]
    complete(world.pharmacist, "conciliation_medicamenteuse", CONCILIATION)
    assert open_tasks(world, instance) == [
        ("Visite infirmière de retour à domicile", "infirmier")
    ]  # the join waits for both
    complete(world.nurse, "verification_infirmier", VISITE)
    assert open_tasks(world, instance) == [("Vérifier le retour à domicile", "coordinateur")]
    complete(world.coord, "bilan_retour_domicile", BILAN)
    assert status(world, instance) == "completed"


def send(world, name, payload=None):
    response = world.hospital.post(
        f"/dossiers/{world.dossier.id}/events", json={"name": name, "payload": payload or {}}
    )
    assert response.status_code == 200, response.json
    return response.json


def test_started_by_hand_the_hospital_confirms_the_discharge(world):
    instance = start(world, "sortie_hospitalisation")
    assert open_tasks(world, instance) == [
        ("Préparer la sortie : fiche de liaison", "coordinateur")
    ]
    planned = (utcnow().astimezone(PARIS).date() + timedelta(days=3)).isoformat()
    complete(world.coord, "fiche_liaison_sortie_hospitalisation", {**FICHE, "date_sortie": planned})
    # Waiting for the hospital: nothing to do yet, no timer due before the planned day.
    assert open_tasks(world, instance) == []
    assert status(world, instance) == "waiting"
    assert fire_due_timers(later(days=1)) == 0
    delivered = send(world, "sortie_hospitalisation", {"date_sortie": planned})
    assert delivered == {"caught": [instance], "started": []}
    returns_home(world, instance)
    assert submitted_forms(world) == [
        "fiche_liaison_sortie_hospitalisation", "conciliation_medicamenteuse",
        "verification_infirmier", "bilan_retour_domicile",
    ]  # fmt: skip
    soins = Entry.objects(dossier=world.dossier.id, category="soins")
    assert sorted(entry.form for entry in soins) == [
        "conciliation_medicamenteuse",
        "verification_infirmier",
    ]
    # Nothing waits any more: a second message starts nothing and catches nothing.
    assert send(world, "autre_message")["caught"] == []


def test_without_news_from_the_hospital_the_planned_day_goes_on(world):
    instance = start(world, "sortie_hospitalisation")
    planned = (utcnow().astimezone(PARIS).date() + timedelta(days=2)).isoformat()
    complete(world.coord, "fiche_liaison_sortie_hospitalisation", {**FICHE, "date_sortie": planned})
    assert fire_due_timers(later(days=1)) == 0
    assert status(world, instance) == "waiting"
    assert fire_due_timers(later(days=3)) == 1  # the evening of the planned day has passed
    returns_home(world, instance)
    # The message arriving late catches nothing: the instance has moved on.
    assert send(world, "sortie_hospitalisation")["caught"] == []


def test_the_hospital_s_message_starts_the_pathway(world):
    """A plain start event sits beside the message start: only the message's path runs."""
    planned = (utcnow().astimezone(PARIS).date() + timedelta(days=1)).isoformat()
    delivered = send(world, "sortie_hospitalisation", {"date_sortie": planned})
    [instance] = delivered["started"]
    assert delivered["caught"] == []
    assert open_tasks(world, instance) == [("Compléter la fiche de liaison", "coordinateur")]
    # Running already: the same message again neither starts a second one nor is caught.
    assert send(world, "sortie_hospitalisation") == {"caught": [], "started": []}
    complete(world.coord, "fiche_liaison_sortie_hospitalisation", {**FICHE, "date_sortie": planned})
    returns_home(world, instance)


def test_the_help_page_presents_the_shipped_pathways(world, client):
    page = html.unescape(client.get("/aide").get_data(as_text=True))
    for key in STRUCTURE:
        _, version = get_version(policy.SYSTEM, key)
        assert f"« {version.name} »" in page
