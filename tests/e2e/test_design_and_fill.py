"""A structure admin designs a form on a phone, publishes it, and a professional fills it."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def _sign_in(page, live_server, user, password):
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse e-mail").fill(user.email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()


def _add(page, kind, label, *, place=None, required=False, options=(), minimum=None, maximum=None):
    adder = page.locator("details", has_text="Ajouter un champ")
    adder.get_by_label("Type de champ").select_option(label=kind)
    adder.get_by_label("Libellé").fill(label)
    if place:
        adder.get_by_label("Placer dans").select_option(label=place)
    if required:
        adder.get_by_label("Obligatoire").check()
    if options:
        adder.get_by_label("Choix possibles (un par ligne)").fill("\n".join(options))
    if minimum is not None:
        adder.get_by_label("Minimum").fill(str(minimum))
    if maximum is not None:
        adder.get_by_label("Maximum").fill(str(maximum))
    adder.get_by_role("button", name="Ajouter le champ").click()
    expect(page.get_by_role("list", name="Champs du formulaire")).to_contain_text(label)


def test_design_publish_and_fill_on_a_phone(
    live_server, browser, structure_admin, professional, structure, password
):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    _sign_in(page, live_server, structure_admin, password)
    page.goto(f"{live_server}/formulaires/")
    page.get_by_role("link", name="Nouveau formulaire").click()
    page.get_by_label("Identifiant").fill("bilan_aidant")
    page.get_by_label("Titre").fill("Bilan de l'aidant")
    page.get_by_label("Catégorie de données").select_option(label="Social")
    page.get_by_role("button", name="Créer").click()
    expect(page.get_by_role("heading", name="Concevoir « Bilan de l'aidant »")).to_be_visible()
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.evaluate("window.sameDocument = true")

    _add(page, "Texte court", "Nom de l'aidant", required=True)
    _add(page, "Nombre entier", "Âge", minimum=16, maximum=110)
    _add(page, "Date", "Date du bilan", required=True)
    _add(page, "Oui / non", "Cohabite avec la personne")
    _add(page, "Choix unique (boutons)", "Motif", required=True, options=("Santé", "Autre"))
    _add(page, "Texte court", "Précisez le motif")
    _add(page, "Choix multiples", "Besoins", options=("Répit", "Formation", "Soutien"))
    _add(page, "Section", "Coordonnées")
    _add(page, "E-mail", "Courriel", place="Coordonnées")
    _add(page, "Téléphone", "Téléphone", place="Coordonnées")
    _add(page, "Groupe répétable", "Actions")
    _add(page, "Texte long", "Action", place="Actions", required=True)

    conditions = page.locator("details", has_text="Ajouter une condition")
    target = conditions.get_by_label("Afficher et rendre obligatoire")
    for _ in range(10):  # htmx may still be settling the previous swap (and its <details>)
        if target.is_visible():
            break
        if conditions.get_attribute("open") is None:
            conditions.locator("summary").click()
        page.wait_for_timeout(200)
    expect(target).to_be_visible()
    conditions.get_by_label("Afficher et rendre obligatoire").select_option(
        label="Précisez le motif"
    )
    conditions.get_by_label("quand le champ").select_option(label="Motif")
    conditions.get_by_label("vaut").fill("Autre")
    conditions.get_by_role("button", name="Ajouter la condition").click()
    expect(page.get_by_role("list", name="Champs du formulaire")).to_contain_text("si « motif »")
    # htmx redrew the page after each change: still the same document, no CSP violation.
    assert page.evaluate("window.sameDocument === true")
    assert violations == []
    # The live preview shows the form as it will be filled.
    preview = page.get_by_role("region", name="Aperçu")
    expect(preview.get_by_label("Nom de l'aidant")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_role("button", name="Publier une nouvelle version").click()
    expect(page.get_by_role("alert").first).to_contain_text("Version 1 publiée")
    context.close()

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    _sign_in(page, live_server, professional, password)
    page.goto(f"{live_server}/formulaires/bilan_aidant")
    page.get_by_label("Âge").fill("12")
    page.get_by_role("radiogroup", name="Motif").get_by_label("Autre").check()
    expect(page.get_by_label("Précisez le motif")).to_be_visible()
    page.get_by_role("button", name="Vérifier le formulaire").click()
    expect(page.get_by_text("La valeur doit être comprise entre 16 et 110.")).to_be_visible()
    expect(page.get_by_text("Ce champ est obligatoire.").first).to_be_visible()
    expect(page.get_by_label("Âge")).to_have_value("12")

    page.get_by_label("Nom de l'aidant").fill("Marie Durand")
    page.get_by_label("Âge").fill("54")
    page.get_by_label("Date du bilan").fill("2026-11-27")
    page.get_by_label("Précisez le motif").fill("Épuisement")
    page.get_by_label("Courriel").fill("marie.durand@example.org")
    page.get_by_label("Action").first.fill("Orienter vers la plateforme de répit")
    page.get_by_role("button", name="Vérifier le formulaire").click()
    expect(page.get_by_role("status")).to_contain_text("Le formulaire est valide")
    expect(page.get_by_text("Orienter vers la plateforme de répit")).to_be_visible()
    assert re.search(r"/formulaires/bilan_aidant$", page.url)
    context.close()
