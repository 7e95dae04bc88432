"""The exports plugin (PLUGINS=exports): a dossier or an entry as a PDF a person can read and
file (structure and patient in the header, forms with labels, page numbers, generation date)
and as JSON; only what the caller may see; bad requests refused."""

import io
import json
from pathlib import Path

import pytest
from dossier_helpers import PDF, VALID_INS, new_dossier
from pypdf import PdfReader
from test_pathway_instances import EVALUATION
from test_pathways import BPMN

from app import policy
from app.audit import AuditEvent
from app.discussions.services import RESTRICTED
from app.dossiers.models import Dossier
from app.formkit.services import sync_directory
from app.pathways.services import deploy

EVALUATION_FORM = {
    **EVALUATION,
    "lieu_evaluation": "domicile",
    "sante": {"pathologies": "Diabète de type 2 ; arthrose."},
}


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PLUGINS": "exports"}


@pytest.fixture
def exported(app, api_as, coordinator, structure, make_user, other_structure):
    """A dossier with an evaluation (form), a public note, a private note of the coordinator,
    and a nurse of another structure in its circle."""
    sync_directory(Path(app.root_path).parent / "forms")
    dossier = new_dossier(coordinator, structure)
    nurse = make_user(other_structure, profession="60", name="Infirmière Inès")
    coord = api_as(coordinator)
    coord.post(f"/dossiers/{dossier.id}/members",
               json={"user": str(nurse.id), "care_role": "infirmier"})  # fmt: skip
    posted = [
        {"form": "evaluation_multidimensionnelle", "data": EVALUATION_FORM, "visibility": "public"},
        {"note": "Passage de l'infirmière à 9 h.", "visibility": "public",
         "category": "administratif"},
        {"note": "Réserve du coordinateur.", "visibility": "private", "category": "administratif"},
    ]  # fmt: skip
    ids = []
    for data in posted:
        made = coord.post(f"/dossiers/{dossier.id}/entries", json=data)
        assert made.status_code == 201, made.json
        ids.append(made.json["id"])
    return dossier, nurse, ids


def pdf_text(content):
    reader = PdfReader(io.BytesIO(content))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_the_pdf_reads_like_a_document(login_as, coordinator, structure, exported):
    dossier, _, _ = exported
    response = login_as(coordinator).get(f"/dossiers/{dossier.id}/export/pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    reader, text = pdf_text(response.data)
    assert structure.name in text  # the header
    assert dossier.identity.display_name in text
    assert "Date de l'évaluation" in text  # labels, not keys
    assert "date_evaluation" not in text
    assert "Au domicile" in text  # a choice by its title
    assert "27/11/2026" in text  # dates in French
    assert "Diabète de type 2 ; arthrose." in text  # inside a section
    assert "Passage de l'infirmière à 9 h." in text
    assert "Réserve du coordinateur." in text  # the coordinator's own private note
    assert f"Page 1/{len(reader.pages)}" in text
    assert "Généré le" in text
    assert AuditEvent.objects(action="dossier.export").get().details["format"] == "pdf"


def test_the_json_has_labels_and_data_and_nothing_hidden(api_as, exported):
    dossier, nurse, ids = exported
    response = api_as(nurse).get(f"/dossiers/{dossier.id}/export?format=json")
    assert response.status_code == 200
    content = json.loads(response.data)
    assert content["patient"]["display_name"] == dossier.identity.display_name
    assert [m["name"] for m in content["circle"]][-1] == "Infirmière Inès"
    texts = [e["text"] for e in content["entries"] if e["kind"] == "note"]
    assert texts == ["Passage de l'infirmière à 9 h."]  # not the coordinator's private note
    [form] = [e for e in content["entries"] if e["kind"] == "form"]
    assert form["data"]["gir"] == EVALUATION["gir"]
    assert ["field", "Lieu de l'évaluation", "Au domicile"] in form["answers"]
    assert "Réserve du coordinateur" not in response.get_data(as_text=True)


def test_a_message_names_only_the_attachments_the_reader_may_open(api_as, coordinator, exported):
    """The coordinator cites a private document in the thread: the nurse's exports (JSON, PDF,
    FHIR) carry the message and a restricted attachment, not its name."""
    dossier, nurse, _ = exported
    coord = api_as(coordinator)
    uploaded = coord.post(
        f"/dossiers/{dossier.id}/documents", content_type="multipart/form-data",
        data={"file": (io.BytesIO(PDF), "bilan-psychiatrique.pdf"), "category": "administratif",
              "visibility": "private"},
    )  # fmt: skip
    assert uploaded.status_code == 201, uploaded.json
    posted = coord.post(f"/dossiers/{dossier.id}/messages",
                        json={"body": "Ci-joint", "documents": [uploaded.json["id"]]})  # fmt: skip
    assert posted.status_code == 201, posted.json
    theirs = api_as(nurse)
    content = json.loads(theirs.get(f"/dossiers/{dossier.id}/export?format=json").data)
    [message] = content["messages"]
    assert (message["body"], message["attachments"]) == ("Ci-joint", [RESTRICTED])
    for fmt in ("json", "pdf", "fhir"):
        exported_file = theirs.get(f"/dossiers/{dossier.id}/export?format={fmt}").data
        text = pdf_text(exported_file)[1] if fmt == "pdf" else exported_file.decode()
        assert "bilan-psychiatrique" not in text, fmt
        assert uploaded.json["id"] not in text, fmt
    mine = json.loads(coord.get(f"/dossiers/{dossier.id}/export?format=json").data)
    assert mine["messages"][0]["attachments"] == ["bilan-psychiatrique.pdf"]


def test_an_entry_alone(api_as, coordinator, exported):
    dossier, _, ids = exported
    response = api_as(coordinator).get(f"/entries/{ids[0]}/export?format=pdf")
    assert response.status_code == 200
    _, text = pdf_text(response.data)
    assert "Élément du dossier" in text
    assert "Date de l'évaluation" in text
    assert "Passage de l'infirmière" not in text


def test_what_one_may_not_see_is_not_exported(api_as, login_as, exported, make_user,
                                              other_structure):  # fmt: skip
    dossier, nurse, ids = exported
    stranger = make_user(other_structure, roles=["coordinator"])
    for fmt in ("pdf", "json"):
        assert login_as(stranger).get(f"/dossiers/{dossier.id}/export/{fmt}").status_code == 404
        assert (
            api_as(stranger).get(f"/dossiers/{dossier.id}/export?format={fmt}").status_code == 404
        )
        assert api_as(stranger).get(f"/entries/{ids[0]}/export?format={fmt}").status_code == 404
    # The nurse may not see the coordinator's private note, even by its id.
    assert api_as(nurse).get(f"/entries/{ids[2]}/export?format=json").status_code == 404
    assert not AuditEvent.objects(action__in=["dossier.export", "entry.export"],
                                  actor=str(stranger.id))  # fmt: skip


@pytest.mark.parametrize("fmt", ["docx", "", "PDF", "../../etc/passwd", "x" * 300])
def test_an_unknown_format_is_refused(api_as, coordinator, exported, fmt):
    dossier, _, _ = exported
    refused = api_as(coordinator).get(
        f"/dossiers/{dossier.id}/export", query_string={"format": fmt}
    )
    assert refused.status_code == 422
    message = refused.json["error"]["fields"]["/format"]
    assert message.startswith("Format d'export inconnu")
    assert "(disponibles : fhir, json, pdf)" in message


def test_the_dossier_page_offers_the_downloads(login_as, coordinator, exported):
    dossier, _, ids = exported
    page = login_as(coordinator).get(f"/dossiers/{dossier.id}").get_data(as_text=True)
    assert f'href="/dossiers/{dossier.id}/export/pdf"' in page
    assert f'href="/dossiers/{dossier.id}/export/json"' in page
    entry = login_as(coordinator).get(f"/entrees/{ids[0]}").get_data(as_text=True)
    assert f'href="/entrees/{ids[0]}/export/pdf"' in entry


def resources(response, kind):
    from fhir.resources.R4B.bundle import Bundle

    bundle = Bundle.model_validate_json(response.data)  # valid FHIR, read back independently
    assert bundle.type == "collection"
    return [e.resource for e in bundle.entry if e.resource.get_resource_type() == kind]


def test_the_fhir_bundle_is_valid_and_holds_what_the_caller_sees(api_as, coordinator, exported):
    dossier, nurse, ids = exported
    dossier.identity.ins = "241037501234567"  # an INS, on an identity nobody qualified
    dossier.save()
    response = api_as(coordinator).get(f"/dossiers/{dossier.id}/export?format=fhir")
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    [patient] = resources(response, "Patient")
    assert patient.name[0].family == dossier.identity.birth_name
    assert not patient.identifier  # no INS: the identity is not qualified
    [team] = resources(response, "CareTeam")
    assert [p.member.display for p in team.participant][-1] == "Infirmière Inès"
    [consent] = resources(response, "Consent")
    assert consent.status == "active"
    [answers] = resources(response, "QuestionnaireResponse")
    texts = [(item.text, item.answer[0].valueString) for item in answers.item if item.answer]
    assert ("Lieu de l'évaluation", "Au domicile") in texts
    [questionnaire] = resources(response, "Questionnaire")
    assert answers.questionnaire.startswith(questionnaire.url)
    notes = [c.payload[0].contentString for c in resources(response, "Communication")]
    assert sorted(notes) == ["Passage de l'infirmière à 9 h.", "Réserve du coordinateur."]
    assert {p.name[0].text for p in resources(response, "Practitioner")} >= {coordinator.name}
    assert resources(response, "Organization")[0].name == "DAC de test"
    theirs = api_as(nurse).get(f"/dossiers/{dossier.id}/export?format=fhir")
    notes = [c.payload[0].contentString for c in resources(theirs, "Communication")]
    assert notes == ["Passage de l'infirmière à 9 h."]


def test_the_ins_travels_only_with_a_qualified_identity(api_as, login_as, coordinator, exported):
    dossier, _, _ = exported
    api = api_as(coordinator)
    Dossier.objects(id=dossier.id).update_one(set__identity__ins=VALID_INS)

    def exports():
        fhir = api.get(f"/dossiers/{dossier.id}/export?format=fhir")
        [patient] = resources(fhir, "Patient")
        content = json.loads(api.get(f"/dossiers/{dossier.id}/export?format=json").data)
        _, text = pdf_text(login_as(coordinator).get(f"/dossiers/{dossier.id}/export/pdf").data)
        return patient.identifier, content["patient"], text

    for document, ins_checked, status, label in (
        ("cni", False, "validee", "validée"),
        ("", True, "recuperee", "récupérée"),
    ):
        checked = api.post(f"/dossiers/{dossier.id}/identity/check",
                           json={"document": document, "ins_checked": ins_checked})  # fmt: skip
        assert checked.json["identity"]["status"] == status
        identifier, patient, text = exports()
        assert (identifier, patient["ins"], patient["identity_status"]) == (None, None, status)
        assert VALID_INS not in text
        assert f"identité {label}" in text

    api.post(
        f"/dossiers/{dossier.id}/identity/check", json={"document": "cni", "ins_checked": True}
    )
    identifier, patient, text = exports()
    assert [(i.system, i.value) for i in identifier] == [("urn:oid:1.2.250.1.213.1.4.8", VALID_INS)]
    assert (patient["ins"], patient["identity_status"]) == (VALID_INS, "qualifiee")
    assert f"identité qualifiée · INS {VALID_INS}" in text


def test_a_pathway_exports_its_steps_and_what_they_produced(
    api_as, login_as, coordinator, make_user, other_structure, exported
):
    dossier, nurse, ids = exported
    deploy(policy.SYSTEM, BPMN)
    coord = api_as(coordinator)
    instance = coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": "suivi_gir"})
    instance_id = instance.json["instance"]
    [step] = [t for t in coord.get("/tasks").json["items"] if t["instance"] == instance_id]
    done = coord.post(f"/tasks/{step['id']}/complete", json={"data": EVALUATION_FORM})
    assert done.status_code == 200, done.json

    page = login_as(coordinator).get(f"/parcours/instances/{instance_id}").get_data(as_text=True)
    assert f'href="/parcours/instances/{instance_id}/export/pdf"' in page
    content = coord.get(f"/instances/{instance_id}/export?format=json").json
    assert content["kind"] == "pathway"
    [pathway] = content["pathways"]
    assert pathway["id"] == instance_id
    assert pathway["tasks"][0]["title"] == "Évaluation multidimensionnelle"
    # Only the entry the step produced, not the dossier's notes.
    assert [e["id"] for e in content["entries"]] == [done.json["entry"]]
    _, text = pdf_text(
        login_as(coordinator).get(f"/parcours/instances/{instance_id}/export/pdf").data
    )
    assert "Parcours du dossier" in text
    assert "Date de l'évaluation" in text
    fhir = coord.get(f"/instances/{instance_id}/export?format=fhir")
    [plan] = resources(fhir, "CarePlan")
    assert plan.title == pathway["name"]
    assert len(resources(fhir, "QuestionnaireResponse")) == 1
    assert AuditEvent.objects(action="pathway.export").count() == 3

    # Someone outside the circle, and a platform admin who may retry steps, get nothing.
    stranger = make_user(other_structure, roles=["coordinator"])
    admin = make_user(None, roles=["platform_admin"])
    for outsider in (stranger, admin):
        assert (
            api_as(outsider).get(f"/instances/{instance_id}/export?format=json").status_code == 404
        )
        assert (
            login_as(outsider).get(f"/parcours/instances/{instance_id}/export/pdf").status_code
            == 404
        )
    assert (
        api_as(coordinator).get(f"/instances/{instance_id}/export?format=docx").status_code == 422
    )


def test_the_openapi_document_lists_the_formats_and_what_they_make(api_as, coordinator, exported):
    """?format= takes the formats the plugins registered, each answered in its media type."""
    dossier, _, (entry, *_) = exported
    api = api_as(coordinator)
    paths = api.get("/openapi.json").json["paths"]
    for path, subject in (("dossiers/{dossier_id}", dossier.id), ("entries/{entry_id}", entry)):
        operation = paths[f"/api/v1/{path}/export"]["get"]
        [param] = [p for p in operation["parameters"] if p["name"] == "format"]
        assert param["schema"]["enum"] == ["fhir", "json", "pdf"]
        produced = operation["responses"]["200"]["content"]
        assert set(produced) == {"application/pdf", "application/json", "application/fhir+json"}
        for fmt in param["schema"]["enum"]:
            url = path.split("/")[0] + f"/{subject}/export"
            answer = api.get(f"/{url}?format={fmt}")
            assert answer.status_code == 200
            assert answer.mimetype in produced
