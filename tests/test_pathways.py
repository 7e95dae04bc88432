"""Deploying pathways: BPMN checked in full, versions kept, through the API, the CLI and the
page; every problem listed in French; only platform and structure admins deploy."""

import io
from pathlib import Path

import pytest
from helpers import html, snapshot
from test_engine_parser import VALID

from app.cli import cli
from app.formkit.services import sync_directory
from app.pathways.models import Pathway, PathwayVersion

BPMN = VALID.replace('"visite_domicile"', '"compte_rendu_visite_domicile"').encode()
XML = {"Content-Type": "application/xml"}
COLLECTIONS = ("pathways", "pathway_versions")


@pytest.fixture(autouse=True)
def forms(app):
    sync_directory(Path(app.root_path).parent / "forms")


def deploy(api, body=BPMN, query="", headers=XML):
    return api.client.post(
        f"/api/v1/pathways{query}", data=body, headers={**api.headers, **headers}
    )


def test_a_platform_admin_deploys_a_pathway_and_its_versions(api_as, platform_admin):
    api = api_as(platform_admin)
    first = deploy(api)
    assert first.status_code == 201, first.json
    assert first.json == {"key": "suivi_gir", "version": 1, "created": True}
    same = deploy(api)
    assert (same.status_code, same.json["version"], same.json["created"]) == (200, 1, False)
    changed = deploy(api, BPMN.replace(b'"P7D"', b'"P10D"'))
    assert (changed.status_code, changed.json["version"]) == (201, 2)
    listed = api.get("/pathways").json["items"]
    assert listed == [
        {"key": "suivi_gir", "name": "Suivi GIR", "structure": None, "purpose": "patient",
         "version": 2}
    ]  # fmt: skip
    old = api.get("/pathways/suivi_gir?version=1").json
    assert [t["form_key"] for t in old["summary"]["user_tasks"]] == [
        "evaluation_multidimensionnelle",
        "compte_rendu_visite_domicile",
    ]
    assert '"P7D"' in old["bpmn"]
    assert api.get("/pathways/suivi_gir?version=9").status_code == 404


def test_deploying_answers_what_the_openapi_document_says(api_as, platform_admin):
    """201 for a new version, 200 for an unchanged document: both are documented, with the
    body as BPMN XML text in each media type the route takes, and an example that deploys."""
    api = api_as(platform_admin)
    operation = api.get("/openapi.json").json["paths"]["/api/v1/pathways"]["post"]
    content = operation["requestBody"]["content"]
    assert set(content) == {"application/xml", "text/xml", "application/bpmn+xml"}
    schema = content["application/xml"]["schema"]
    assert schema["type"] == "string"
    [example] = schema["examples"]
    for media_type, status in zip(sorted(content), (201, 200, 200), strict=True):
        answer = deploy(api, example.encode(), headers={"Content-Type": media_type})
        assert answer.status_code == status, answer.json
        assert str(status) in operation["responses"]
        assert set(answer.json) == set(operation["responses"][str(status)]["content"][
            "application/json"]["schema"]["properties"])  # fmt: skip


def test_the_api_takes_a_bpmn_document_as_large_as_the_page_does(api_as, platform_admin):
    """5 MiB, as on the "Parcours" page: more than the 1 MiB of a JSON body; over it, 413."""
    api = api_as(platform_admin)
    start = b'<bpmn:startEvent id="start"/>'

    def padded(size):
        note = b"<bpmn:documentation>" + b"x" * size + b"</bpmn:documentation>"
        return BPMN.replace(start, start[:-2] + b">" + note + b"</bpmn:startEvent>")

    deployed = deploy(api, padded(2 * 1024 * 1024))
    assert deployed.status_code == 201, deployed.get_data(as_text=True)[:300]
    before = snapshot(COLLECTIONS)
    refused = deploy(api, padded(5 * 1024 * 1024))
    assert refused.status_code == 413
    assert refused.json["error"]["code"] == "payload_too_large"
    assert snapshot(COLLECTIONS) == before


def test_every_problem_is_listed_and_nothing_is_deployed(api_as, platform_admin):
    api = api_as(platform_admin)
    broken = BPMN.replace(b'"compte_rendu_visite_domicile"', b'"formulaire_inconnu"').replace(
        b'name="medecin_traitant"', b'name="sorcier"'
    )
    before = snapshot(COLLECTIONS)
    response = deploy(api, broken)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid_bpmn"
    messages = " ".join(p["message"] for p in error["problems"])
    assert len(error["problems"]) >= 2
    assert "formulaire_inconnu" in messages
    assert "sorcier" in messages
    assert all(p["line"] for p in error["problems"])
    assert snapshot(COLLECTIONS) == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"<bpmn:definitions", 422),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b"<x>&e;</x>",
            422,
        ),
        (b"<a>" + b"x" * (20 * 1024 * 1024) + b"</a>", 413),
    ],
)
def test_hostile_bpmn_is_refused(api_as, platform_admin, body, status):
    api = api_as(platform_admin)
    before = snapshot(COLLECTIONS)
    response = deploy(api, body)
    assert response.status_code == status
    assert "root:" not in response.get_data(as_text=True)
    assert snapshot(COLLECTIONS) == before


def test_the_body_must_be_xml(api_as, platform_admin):
    api = api_as(platform_admin)
    response = api.post("/pathways", json={"bpmn": BPMN.decode()})
    assert response.status_code == 415


def test_who_deploys(api_as, structure_admin, professional, coordinator, other_structure):
    assert deploy(api_as(professional)).status_code == 403
    assert deploy(api_as(coordinator)).status_code == 403
    admin = api_as(structure_admin)
    assert deploy(admin).status_code == 403  # a platform-wide pathway
    assert deploy(admin, query=f"?structure={other_structure.key}").status_code == 403
    mine = deploy(admin, query="?structure=dac-test")
    assert mine.status_code == 201
    assert Pathway.objects.get().owner is not None
    # Everyone signed in reads them.
    assert api_as(professional).get("/pathways/suivi_gir").status_code == 200


def test_the_cli_deploys_and_lists_every_problem(runner, tmp_path):
    good = tmp_path / "suivi.bpmn"
    good.write_bytes(BPMN)
    result = runner.invoke(cli, ["pathways", "deploy", str(good)])
    assert result.exit_code == 0, result.output
    assert "suivi_gir: deployed, version 1" in result.output
    again = runner.invoke(cli, ["pathways", "deploy", str(good)])
    assert "unchanged, version 1" in again.output
    bad = tmp_path / "mauvais.bpmn"
    bad.write_bytes(BPMN.replace(b'name="medecin_traitant"', b'name="sorcier"'))
    refused = runner.invoke(cli, ["pathways", "deploy", str(bad)])
    assert refused.exit_code == 1
    assert "sorcier" in refused.output
    assert PathwayVersion.objects.count() == 1


def test_the_page_deploys_and_shows_the_problems(login_as, platform_admin, professional):
    web = login_as(platform_admin)
    assert "Déployer un parcours" in html(web.get("/parcours/"))
    bad = BPMN.replace(b'name="medecin_traitant"', b'name="sorcier"')
    refused = web.post(
        "/parcours/deployer",
        {"bpmn": (io.BytesIO(bad), "p.bpmn")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "sorcier" in html(refused)
    done = web.post(
        "/parcours/deployer",
        {"bpmn": (io.BytesIO(BPMN), "p.bpmn")},
        content_type="multipart/form-data",
    )
    assert done.status_code == 302
    page = html(web.get(done.headers["Location"]))
    assert "Évaluation multidimensionnelle" in page
    assert "Médecin traitant" in page
    assert web.get("/parcours/suivi_gir/bpmn").data == BPMN
    pro = login_as(professional)
    assert "Déployer un parcours" not in html(pro.get("/parcours/"))
    forbidden = pro.post(
        "/parcours/deployer",
        {"bpmn": (io.BytesIO(BPMN), "p.bpmn")},
        content_type="multipart/form-data",
    )
    assert forbidden.status_code == 403


def test_a_registered_connector_becomes_an_operator(api_as, platform_admin, monkeypatch):
    """Plugins register connectors: pathways may then call them (and only then)."""
    from app.engine import runtime

    body = BPMN.replace(b'serviceTaskOperator id="notify"', b'serviceTaskOperator id="sms"')
    refused = deploy(api_as(platform_admin), body)
    assert refused.status_code == 422
    assert any("sms" in p["message"] for p in refused.json["error"]["problems"])
    monkeypatch.setitem(runtime.CONNECTORS, "sms", lambda params, context: None)
    assert deploy(api_as(platform_admin), body).status_code == 201


# Integers that MongoDB cannot compare (more than 64 bits): they name no version or position.
BEYOND_64_BITS = ["99999999999999999999", "-99999999999999999999", "1" + "0" * 40]


@pytest.mark.parametrize("number", BEYOND_64_BITS)
def test_a_number_beyond_64_bits_in_the_query_is_not_a_server_error(
    api_as, login_as, platform_admin, coordinator, structure, number
):
    """?version=, ?before=, ?after=… on the API and the pages: 404 for a version that cannot
    exist, an empty page for a position; never a 500."""
    from dossier_helpers import new_dossier

    api = api_as(platform_admin)
    assert deploy(api).status_code == 201
    for url in (f"/pathways/suivi_gir?version={number}",
                f"/pathways/suivi_gir/migration?version={number}"):  # fmt: skip
        assert api.get(url).status_code == 404, url
    admin, form = login_as(platform_admin), "/formulaires/evaluation_multidimensionnelle"
    for url in (f"/parcours/suivi_gir?version={number}",
                f"/parcours/suivi_gir/bpmn?version={number}",
                f"{form}?version={number}", f"{form}/export?version={number}"):  # fmt: skip
        assert admin.get(url).status_code == 404, url
    assert admin.get(f"/cgu?version={number}").status_code == 200
    assert admin.get(f"/admin/journal?before={number}").status_code == 200
    dossier = new_dossier(coordinator, structure)
    coord, browser = api_as(coordinator), login_as(coordinator)
    for url in (f"/dossiers/{dossier.id}/timeline?before={number}",
                f"/dossiers/{dossier.id}/messages?before={number}",
                f"/dossiers/{dossier.id}/messages?after={number}"):  # fmt: skip
        assert coord.get(url).status_code == 200, url
    assert browser.get(f"/dossiers/{dossier.id}?before={number}").status_code == 200
