"""A professional on a phone: log in, edit the profile, create a token, log out."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def _no_horizontal_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_login_profile_logout_on_a_phone(live_server, phone, professional, password, tmp_path):
    page = phone
    page.goto(f"{live_server}/")
    expect(page).to_have_url(re.compile(r"/connexion"))
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()

    page.get_by_label("Adresse e-mail").fill(professional.email)
    page.get_by_label("Mot de passe").fill("mauvais-mot-de-passe")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_contain_text("Adresse e-mail ou mot de passe incorrect")

    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Bonjour Infirmière Pro")).to_be_visible()
    assert _no_horizontal_scroll(page)
    page.screenshot(path=str(tmp_path / "home-phone.png"), full_page=True)

    # The menu is collapsed on a phone: open it to reach the profile.
    page.get_by_role("button", name="Ouvrir le menu").click()
    page.get_by_role("link", name=re.compile("Mon profil")).click()
    expect(page.get_by_role("heading", name="Mon profil")).to_be_visible()
    # The name and the profession are shown, the platform team changes them; the phone is ours.
    page.get_by_label("Téléphone").fill("appelez-moi")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Le format de la valeur est invalide.")).to_be_visible()

    page.get_by_label("Téléphone").fill("06 12 34 56 78")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("alert")).to_contain_text("Votre profil est enregistré")
    expect(page.get_by_label("Téléphone")).to_have_value("06 12 34 56 78")
    assert _no_horizontal_scroll(page)

    page.get_by_role("link", name="Gérer mes jetons d'API").click()
    page.get_by_label("Nom du jeton").fill("logiciel du cabinet")
    page.get_by_role("button", name="Créer un jeton").click()
    expect(page.locator("#nouveau-jeton")).to_contain_text("prc_")
    expect(page.get_by_role("cell", name="logiciel du cabinet")).to_be_visible()

    page.get_by_role("button", name="Ouvrir le menu").click()
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("alert")).to_contain_text("Vous êtes déconnecté")
    page.goto(f"{live_server}/profil")
    expect(page).to_have_url(re.compile(r"/connexion"))


def test_admin_navigation_on_a_desktop(live_server, desktop, platform_admin, structure, password):
    page = desktop
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse e-mail").fill(platform_admin.email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    navigation = page.get_by_role("navigation", name="Navigation principale")
    navigation.get_by_role("link", name="Structures").click()
    expect(page.locator(".list-group-item", has_text="DAC de test")).to_contain_text("Active")
    navigation.get_by_role("link", name="Journal d'audit").click()
    expect(page.get_by_role("cell", name="login.success").first).to_be_visible()


def test_structure_admin_manages_members_on_a_phone(
    live_server, phone, structure_admin, professional, password
):
    page = phone
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse e-mail").fill(structure_admin.email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("link", name="Gérer les membres").click()
    expect(page.get_by_role("heading", name="Membres")).to_be_visible()
    assert _no_horizontal_scroll(page)

    page.get_by_label("Adresse e-mail").fill("nouveau@example.org")
    page.locator("#new-coordinator").check()
    page.get_by_role("button", name="Ajouter").click()
    expect(page.get_by_text("Ce champ est obligatoire pour créer le compte.").first).to_be_visible()
    expect(page.get_by_label("Adresse e-mail")).to_have_value("nouveau@example.org")

    page.get_by_label("Nom complet").fill("Nouveau Coordinateur")
    page.get_by_label("Mot de passe initial").fill("mot-de-passe-initial")
    page.locator("#new-coordinator").check()
    page.get_by_role("button", name="Ajouter").click()
    expect(page.get_by_role("alert")).to_contain_text("vérifié par l'équipe de la plateforme")
    expect(page.get_by_text("Nouveau Coordinateur", exact=True)).to_be_visible()
    assert _no_horizontal_scroll(page)
