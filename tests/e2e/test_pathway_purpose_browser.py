"""Only what may run on a dossier is offered there (issue 17): a coordinator's « Démarrer un
parcours » lists the platform's patient pathways and their own structure's, never a process
of the platform itself (the account check) nor another structure's pathway; and a platform
admin declares a new pathway a platform process in the modeler."""

from pathlib import Path

import pytest
from dossier_helpers import new_dossier
from playwright.sync_api import expect
from test_pathway_modeler_browser import _select, _sign_in
from test_pathways import BPMN

from app import policy
from app.demo import deploy_shipped_workflows
from app.formkit.services import sync_directory
from app.pathways.models import Pathway
from app.pathways.services import deploy

pytestmark = pytest.mark.e2e


def test_the_start_list_of_a_dossier_offers_no_platform_process(
    app, live_server, phone, coordinator, structure, other_structure, password
):
    sync_directory(Path(app.root_path).parent / "forms")
    deploy_shipped_workflows()
    theirs = BPMN.replace(
        b'id="suivi_gir" name="Suivi GIR"', b'id="suivi_autre" name="Suivi autre"'
    )
    deploy(policy.SYSTEM, theirs, structure=other_structure.key)
    dossier = new_dossier(coordinator, structure)
    page = phone
    _sign_in(page, live_server, coordinator, password)
    page.goto(f"{live_server}/dossiers/{dossier.id}/parcours")
    start = page.get_by_label("Démarrer un parcours")
    expect(start).to_be_visible()
    offered = start.locator("option").all_inner_texts()
    assert "Parcours de coordination d'une situation complexe" in offered
    assert "Retour à domicile après une hospitalisation" in offered
    assert "Vérification d'une demande de compte" not in offered  # a platform process
    assert "Suivi autre" not in offered  # another structure's
    start.select_option(label="Parcours de coordination d'une situation complexe")
    page.get_by_role("button", name="Démarrer").click()
    expect(page.get_by_text("est démarré")).to_be_visible()


def test_a_platform_admin_declares_a_platform_process_in_the_modeler(
    app, live_server, browser, platform_admin, password
):
    sync_directory(Path(app.root_path).parent / "forms")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    _sign_in(page, live_server, platform_admin, password)
    page.goto(f"{live_server}/parcours/nouveau")
    expect(page.locator("#m-canvas[data-ready]")).to_be_attached()
    page.get_by_label("Nom du parcours").fill("Contrôle interne")
    page.get_by_label("Nom du parcours").press("Tab")
    page.get_by_label("Finalité").select_option("platform")
    # Its step: the platform's internal form, in the platform team's lane.
    _select(page, "first_step")
    page.get_by_label("Formulaire").select_option("verification_compte")
    _select(page, "lane_coordinateur", position=(400, 20))
    page.get_by_label("Rôle").select_option("equipe_plateforme")
    page.get_by_role("button", name="Vérifier et déployer").click()
    expect(page.locator("#m-status")).to_contain_text("Version 1 déployée")
    assert Pathway.objects.get(key="controle_interne").purpose == "platform"
    context.close()
