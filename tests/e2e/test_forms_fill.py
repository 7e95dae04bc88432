"""A professional fills the evaluation form on a phone: French errors, a condition, success."""

import re

import pytest
from playwright.sync_api import expect

from app.cli import cli

pytestmark = pytest.mark.e2e


def test_fill_the_evaluation_on_a_phone(live_server, phone, runner, professional, password):
    assert runner.invoke(cli, ["forms", "sync"]).exit_code == 0
    page = phone
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse e-mail").fill(professional.email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.goto(f"{live_server}/formulaires/evaluation_multidimensionnelle")
    expect(page.get_by_role("heading", name="Évaluation multidimensionnelle")).to_be_visible()

    # The condition: the carer's details appear only when a carer is present.
    carer_link = page.get_by_role("radiogroup", name="Lien avec la personne")
    expect(carer_link).to_be_hidden()
    page.get_by_role("radiogroup", name="Présence d'un aidant non professionnel").get_by_label(
        "Oui"
    ).check()
    expect(carer_link).to_be_visible()

    page.get_by_label("Date de l'évaluation").fill("2026-11-27")
    page.get_by_label("GIR (1 à 6)").fill("9")
    page.get_by_role("button", name="Vérifier le formulaire").click()
    expect(page.get_by_role("alert").first).to_contain_text("erreurs")
    gir = page.get_by_label("GIR (1 à 6)")
    expect(gir).to_have_value("9")  # what was typed is kept
    expect(gir).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("La valeur doit être comprise entre 1 et 6.")).to_be_visible()
    expect(page.get_by_text("Ce champ est obligatoire.").first).to_be_visible()

    gir.fill("2")
    page.get_by_role("radiogroup", name="Lieu de l'évaluation").get_by_label("Au domicile").check()
    page.get_by_role("radiogroup", name="Lien avec la personne").get_by_label("Enfant").check()
    page.get_by_label("Épuisement de l'aidant (0 à 10)").fill("7")
    page.get_by_label("Synthèse de la situation").fill("Aidante épuisée, risque de chute.")
    page.get_by_role("button", name="Vérifier le formulaire").click()
    expect(page.get_by_role("status")).to_contain_text("Le formulaire est valide")
    expect(page.get_by_text("27/11/2026")).to_be_visible()
    expect(page.get_by_text("Au domicile")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert re.search(r"/formulaires/evaluation_multidimensionnelle$", page.url)
