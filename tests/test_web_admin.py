"""Platform administration through the HTML pages: structures, accounts, audit trail."""

import re
from urllib.parse import urlsplit

import pytest
from helpers import PASSWORD, field_error, html, snapshot

from app.accounts.models import User
from app.accounts.passwords import verify_password
from app.audit import AuditEvent
from app.structures.models import Structure

FORBIDDEN = "Vous n&#39;avez pas le droit"
DUPLICATE_EMAIL = "Un compte existe déjà avec cette adresse e-mail."
DUPLICATE_KEY = "Une structure existe déjà avec cet identifiant."
REQUIRED = "Ce champ est obligatoire."


@pytest.fixture
def admin(login_as, platform_admin):
    return login_as(platform_admin)


@pytest.fixture
def target(make_user, structure):
    """An ordinary member of the structure, whose account the routes below would change."""
    return make_user(structure, email="cible@example.org", name="Compte Cible")


VALID_STRUCTURE = {
    "key": "ssiad-31",
    "name": "SSIAD de Toulouse",
    "sector": "medico_social",
    "kind": "ssiad",
    "finess": "310000001",
    "siret": "12345678901234",
    "address": "1 place du Capitole, 31000 Toulouse",
    "department": "31",
    "phone": "05 61 00 00 00",
    "email": "contact@ssiad31.example.org",
}


# --- access matrix ---------------------------------------------------------------------------

ADMIN_ROUTES = [
    ("GET", "/structures/", None),
    ("GET", "/structures/nouvelle", None),
    (
        "POST",
        "/structures/nouvelle",
        {"key": "intruse", "name": "Intruse", "sector": "social", "kind": "autre"},
    ),
    ("GET", "/structures/dac-test/modifier", None),
    (
        "POST",
        "/structures/dac-test/modifier",
        {"name": "Nom piraté", "sector": "social", "kind": "dac"},
    ),
    ("GET", "/structures/autre/modifier", None),
    (
        "POST",
        "/structures/autre/modifier",
        {"name": "Nom piraté", "sector": "social", "kind": "dac"},
    ),
    ("POST", "/structures/dac-test/activation", {"active": "0"}),
    ("POST", "/structures/autre/activation", {"active": "0"}),
    ("GET", "/admin/utilisateurs", None),
    ("GET", "/admin/utilisateurs/nouveau", None),
    (
        "POST",
        "/admin/utilisateurs/nouveau",
        {
            "email": "intrus@example.org",
            "name": "Intrus",
            "password": "un-mot-de-passe-long",
            "platform_admin": "on",
            "structure": "dac-test",
            "roles": "structure_admin",
        },
    ),
    ("GET", "/admin/utilisateurs/{target}", None),
    (
        "POST",
        "/admin/utilisateurs/{target}",
        {
            "email": "cible@example.org",
            "name": "Nom piraté",
            "status": "suspended",
            "platform_admin": "on",
            "password": "une-autre-phrase-longue",
        },
    ),
    ("GET", "/admin/utilisateurs/{me}", None),
    (
        "POST",
        "/admin/utilisateurs/{me}",
        {"email": "{email}", "name": "{name}", "status": "active", "platform_admin": "on"},
    ),
    ("GET", "/admin/journal", None),
    ("GET", "/admin/journal?action=login.success", None),
]
ROUTE_IDS = [f"{method} {url}" for method, url, _ in ADMIN_ROUTES]


def request_as(browser, method, url, data, me, target):
    url = url.format(target=target.id, me=getattr(me, "id", "000000000000000000000000"))
    if data is not None:
        me_ = {"email": getattr(me, "email", ""), "name": getattr(me, "name", "")}
        data = {k: v.format(**me_) for k, v in data.items()}
    if method == "GET":
        return browser.get(url)
    return browser.post(url, data)


@pytest.mark.parametrize("role", ["professional", "coordinator", "structure_admin"])
@pytest.mark.parametrize(("method", "url", "data"), ADMIN_ROUTES, ids=ROUTE_IDS)
def test_admin_routes_are_forbidden_to_non_admins(
    request, login_as, other_structure, target, role, method, url, data
):
    user = request.getfixturevalue(role)
    browser = login_as(user)
    before = snapshot()
    response = request_as(browser, method, url, data, user, target)
    assert response.status_code == 403, html(response)
    page = html(response)
    assert "Accès refusé" in page
    assert FORBIDDEN in page
    assert '<html lang="fr">' in page
    assert snapshot() == before


@pytest.mark.parametrize(("method", "url", "data"), ADMIN_ROUTES, ids=ROUTE_IDS)
def test_admin_routes_send_anonymous_visitors_to_login(
    web, other_structure, target, method, url, data
):
    before = snapshot()
    response = request_as(web, method, url, data, None, target)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/connexion"
    assert snapshot() == before


@pytest.mark.parametrize(("method", "url", "data"), ADMIN_ROUTES, ids=ROUTE_IDS)
def test_admin_routes_work_for_the_platform_admin(
    admin, platform_admin, other_structure, target, method, url, data
):
    """The control of the matrix above: the same requests succeed for the platform admin."""
    response = request_as(admin, method, url, data, platform_admin, target)
    assert response.status_code == (200 if method == "GET" else 302), html(response)


def test_suspended_platform_admin_loses_access(login_as, platform_admin):
    browser = login_as(platform_admin)
    User.objects(id=platform_admin.id).update_one(set__status="suspended")
    response = browser.get("/admin/utilisateurs")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/connexion"


def test_navigation_shows_admin_links_only_to_the_platform_admin(login_as, admin, professional):
    page = html(admin.get("/"))
    for link in ('href="/structures/"', 'href="/admin/utilisateurs"', 'href="/admin/journal"'):
        assert link in page
    page = html(login_as(professional).get("/"))
    for link in ('href="/structures/"', 'href="/admin/utilisateurs"', 'href="/admin/journal"'):
        assert link not in page


# --- structures ------------------------------------------------------------------------------


def test_structure_list(admin, structure, other_structure):
    response = admin.get("/structures/")
    assert response.status_code == 200
    page = html(response)
    assert "DAC de test" in page
    assert "Autre structure" in page
    assert "Médico-social" in page
    assert "Nouvelle structure" in page


def test_create_structure(admin, platform_admin):
    response = admin.post("/structures/nouvelle", VALID_STRUCTURE)
    assert response.status_code == 302
    assert response.headers["Location"] == "/structures/"
    structure = Structure.objects.get(key="ssiad-31")
    for field, value in VALID_STRUCTURE.items():
        assert structure[field] == value, field
    assert structure.active is True
    page = html(admin.get("/structures/"))
    assert "La structure « SSIAD de Toulouse » est créée." in page
    assert "SSIAD de Toulouse" in page
    event = AuditEvent.objects(action="structure.create").first()
    assert event.actor == str(platform_admin.id)
    assert event.object_id == str(structure.id)


def test_create_structure_with_only_required_fields(admin):
    response = admin.post(
        "/structures/nouvelle",
        {
            "key": "cpts-nord",
            "name": "CPTS Nord",
            "sector": "sanitaire",
            "kind": "cpts",
            "finess": "",
            "siret": "",
            "email": "",
        },
    )
    assert response.status_code == 302
    structure = Structure.objects.get(key="cpts-nord")
    assert structure.finess is None
    assert structure.email is None


def test_create_structure_with_a_duplicate_key(admin, structure):
    before = snapshot()
    response = admin.post("/structures/nouvelle", {**VALID_STRUCTURE, "key": "dac-test"})
    assert response.status_code == 409
    page = html(response)
    assert DUPLICATE_KEY in page
    assert field_error(page, "key") == DUPLICATE_KEY
    assert 'value="SSIAD de Toulouse"' in page  # what was typed is kept
    assert snapshot() == before
    assert Structure.objects.get(key="dac-test").name == "DAC de test"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"key": "Majuscules"}, "key", "Le format de la valeur est invalide."),
        ({"key": "avec espace"}, "key", "Le format de la valeur est invalide."),
        ({"key": "-tiret"}, "key", "Le format de la valeur est invalide."),
        ({"key": "a"}, "key", "Saisissez au moins 2 caractères."),
        ({"key": "k" * 65}, "key", "Saisissez au plus 64 caractères."),
        ({"key": ""}, "key", REQUIRED),
        ({"name": ""}, "name", REQUIRED),
        ({"name": "n" * 201}, "name", "Saisissez au plus 200 caractères."),
        ({"sector": "spatial"}, "sector", "Choisissez une valeur de la liste."),
        ({"sector": ""}, "sector", REQUIRED),
        ({"kind": "fusee"}, "kind", "Choisissez une valeur de la liste."),
        ({"finess": "ABCDEFGHI"}, "finess", "Le format de la valeur est invalide."),
        ({"finess": "3100000012"}, "finess", "Le format de la valeur est invalide."),
        ({"siret": "123"}, "siret", "Le format de la valeur est invalide."),
        ({"department": "999A"}, "department", "Le format de la valeur est invalide."),
        ({"email": "pas-une-adresse"}, "email", "Saisissez une adresse e-mail valide."),
    ],
)
def test_create_structure_with_invalid_fields(admin, changes, field, message):
    before = snapshot()
    response = admin.post("/structures/nouvelle", {**VALID_STRUCTURE, **changes})
    assert response.status_code == 400, html(response)
    page = html(response)
    assert "Les données envoyées sont invalides." in page
    assert field_error(page, field) == message
    assert 'value="1 place du Capitole, 31000 Toulouse"' in page
    assert snapshot() == before


def test_structure_form_reports_every_missing_field(admin):
    response = admin.post("/structures/nouvelle", {})
    assert response.status_code == 400
    page = html(response)
    for field in ("key", "name", "sector", "kind"):
        assert field_error(page, field) == REQUIRED, field
    assert Structure.objects.count() == 0


def test_edit_structure(admin, structure):
    page = html(admin.get("/structures/dac-test/modifier"))
    assert 'value="DAC de test"' in page
    assert 'name="key"' not in page  # the key cannot change
    response = admin.post(
        "/structures/dac-test/modifier",
        {
            "name": "DAC Haute-Garonne",
            "sector": "sanitaire",
            "kind": "dac",
            "finess": "",
            "department": "31",
            "key": "nouvelle-cle",
        },
    )
    assert response.status_code == 302
    structure.reload()
    assert structure.key == "dac-test"
    assert structure.name == "DAC Haute-Garonne"
    assert structure.sector == "sanitaire"
    assert structure.department == "31"
    assert "La structure est enregistrée." in html(admin.get("/structures/"))
    assert AuditEvent.objects(action="structure.update", object_id=str(structure.id)).count() == 1


def test_edit_structure_clears_optional_fields(admin, make_structure):
    make_structure(key="avec-finess", finess="310000001", phone="0561000000")
    response = admin.post(
        "/structures/avec-finess/modifier",
        {
            "name": "Avec FINESS",
            "sector": "sanitaire",
            "kind": "hopital",
            "finess": "",
            "phone": "",
        },
    )
    assert response.status_code == 302
    structure = Structure.objects.get(key="avec-finess")
    assert structure.finess is None
    assert structure.phone is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", REQUIRED),
        ({"sector": "spatial"}, "sector", "Choisissez une valeur de la liste."),
        ({"finess": "ABC"}, "finess", "Le format de la valeur est invalide."),
    ],
)
def test_edit_structure_with_invalid_fields(admin, structure, changes, field, message):
    before = snapshot()
    form = {"name": "DAC de test", "sector": "medico_social", "kind": "dac", **changes}
    response = admin.post("/structures/dac-test/modifier", form)
    assert response.status_code == 400, html(response)
    page = html(response)
    assert field_error(page, field) == message
    assert snapshot() == before


def test_edit_unknown_structure(admin):
    response = admin.get("/structures/inconnue/modifier")
    assert response.status_code == 404
    assert "Cette structure n&#39;existe pas." in html(response)
    assert admin.post("/structures/inconnue/activation", {"active": "0"}).status_code == 404


def test_deactivate_and_reactivate_a_structure(
    admin, login_as, structure, structure_admin, professional
):
    manager = login_as(structure_admin)
    assert manager.get("/structures/dac-test/membres").status_code == 200
    assert "DAC de test" in html(login_as(professional).get("/"))

    response = admin.post("/structures/dac-test/activation", {"active": "0"})
    assert response.status_code == 302
    structure.reload()
    assert structure.active is False
    page = html(admin.get("/structures/"))
    assert "La structure est désactivée" in page
    assert "Désactivée" in page
    assert AuditEvent.objects(action="structure.deactivate").count() == 1

    # Its members keep their accounts but lose their roles in it.
    before = snapshot()
    response = manager.get("/structures/dac-test/membres")
    assert response.status_code == 403
    response = manager.post(
        "/structures/dac-test/membres",
        {
            "email": "nouveau@example.org",
            "name": "Nouveau",
            "password": "un-mot-de-passe-long",
            "roles": "professional",
        },
    )
    assert response.status_code == 403
    response = manager.post(f"/structures/dac-test/membres/{professional.id}/retirer")
    assert response.status_code == 403
    assert snapshot() == before
    page = html(login_as(professional).get("/"))
    assert "DAC de test" not in page
    assert "Vous n'êtes membre d'aucune structure." in page
    assert "Gérer les membres" not in html(manager.get("/"))
    # The platform admin still manages it, and can give it back its members' roles.
    assert admin.get("/structures/dac-test/membres").status_code == 200

    response = admin.post("/structures/dac-test/activation", {"active": "1"})
    assert response.status_code == 302
    structure.reload()
    assert structure.active is True
    assert "La structure est réactivée." in html(admin.get("/structures/"))
    assert AuditEvent.objects(action="structure.reactivate").count() == 1
    assert manager.get("/structures/dac-test/membres").status_code == 200


def test_deactivated_structure_is_not_offered_for_new_accounts(admin, structure, other_structure):
    admin.post("/structures/autre/activation", {"active": "0"})
    page = html(admin.get("/admin/utilisateurs/nouveau"))
    assert '<option value="dac-test"' in page
    assert '<option value="autre"' not in page


# --- accounts --------------------------------------------------------------------------------


def test_user_list_and_search(admin, professional, coordinator):
    page = html(admin.get("/admin/utilisateurs"))
    assert "Infirmière Pro" in page
    assert "Coordinatrice" in page
    page = html(admin.get("/admin/utilisateurs?q=coord"))
    assert "Coordinatrice" in page
    assert "Infirmière Pro" not in page
    page = html(admin.get("/admin/utilisateurs?q=personne"))
    assert "Aucun compte trouvé." in page


def test_create_user_with_profession_and_membership(admin, platform_admin, structure):
    response = admin.post(
        "/admin/utilisateurs/nouveau",
        {
            "email": " Nouvelle.Personne@Example.org ",
            "name": "Nouvelle Personne",
            "profession": "assistant_social",
            "phone": "0600000000",
            "password": "mot-de-passe-1",
            "structure": "dac-test",
            "roles": ["coordinator", "professional"],
        },
    )
    assert response.status_code == 302, html(response)
    user = User.objects.get(email="nouvelle.personne@example.org")
    assert response.headers["Location"] == f"/admin/utilisateurs/{user.id}"
    assert user.name == "Nouvelle Personne"
    assert user.profession == "assistant_social"
    assert user.status == "active"
    assert user.platform_admin is False
    assert user.roles_in(structure.id) == {"coordinator", "professional"}
    assert user.password_hash != "mot-de-passe-1"
    assert verify_password(user.password_hash, "mot-de-passe-1")
    page = html(admin.get(f"/admin/utilisateurs/{user.id}"))
    assert "Le compte de Nouvelle Personne est créé." in page
    assert "DAC de test" in page
    event = AuditEvent.objects(action="user.create").first()
    assert event.actor == str(platform_admin.id)
    assert event.object_id == str(user.id)
    assert "mot-de-passe-1" not in str(event.to_mongo())
    # The new account works.
    browser = type(admin)(admin.client.application.test_client())
    assert browser.login("nouvelle.personne@example.org", "mot-de-passe-1").status_code == 302


def test_create_platform_admin_without_structure(admin):
    response = admin.post(
        "/admin/utilisateurs/nouveau",
        {
            "email": "admin2@example.org",
            "name": "Deuxième Admin",
            "password": "mot-de-passe-1",
            "platform_admin": "on",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="admin2@example.org")
    assert user.platform_admin is True
    assert list(user.memberships) == []


@pytest.mark.parametrize("email", ["pro@example.org", "PRO@example.org", " pro@example.org "])
def test_create_user_with_a_taken_email(admin, professional, email):
    before = snapshot()
    response = admin.post(
        "/admin/utilisateurs/nouveau",
        {"email": email, "name": "Doublon", "password": "mot-de-passe-1"},
    )
    assert response.status_code == 409
    page = html(response)
    assert DUPLICATE_EMAIL in page
    assert field_error(page, "email") == DUPLICATE_EMAIL
    assert 'value="Doublon"' in page
    assert snapshot() == before


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"email": "pas-une-adresse"}, ("email", "Saisissez une adresse e-mail valide.")),
        ({"email": ""}, ("email", REQUIRED)),
        ({"name": ""}, ("name", REQUIRED)),
        ({"password": "court"}, ("password", "Saisissez au moins 12 caractères.")),
        ({"password": ""}, ("password", REQUIRED)),
        ({"profession": "astronaute"}, ("profession", "Choisissez une valeur de la liste.")),
        ({"roles": []}, ("memberships", "Choisissez au moins un élément.")),
        ({"roles": ["empereur"]}, ("memberships", "Choisissez une valeur de la liste.")),
        ({"structure": "inconnue"}, ("memberships", "Cette structure n&#39;existe pas.")),
    ],
)
def test_create_user_with_invalid_fields(admin, structure, changes, error):
    form = {
        "email": "valide@example.org",
        "name": "Nom Valide",
        "password": "mot-de-passe-1",
        "profession": "60",
        "structure": "dac-test",
        "roles": ["professional"],
        **changes,
    }
    before = snapshot()
    response = admin.post("/admin/utilisateurs/nouveau", form)
    assert response.status_code == 400, html(response)
    page = html(response)
    field, message = error
    if field == "memberships":
        assert f'<div class="text-danger small">{message}</div>' in page
    else:
        assert field_error(page, field) == message
    assert snapshot() == before


def edit_form(user, **changes):
    form = {
        "email": user.email,
        "name": user.name,
        "profession": user.profession or "",
        "phone": user.phone or "",
        "status": user.status,
    }
    if user.platform_admin:
        form["platform_admin"] = "on"
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def test_edit_user_page(admin, professional):
    response = admin.get(f"/admin/utilisateurs/{professional.id}")
    assert response.status_code == 200
    page = html(response)
    assert 'value="pro@example.org"' in page
    assert '<option value="active" selected>Actif</option>' in page
    assert "DAC de test" in page
    assert "Professionnel" in page


def test_edit_user_identity(admin, professional):
    response = admin.post(
        f"/admin/utilisateurs/{professional.id}",
        edit_form(
            professional,
            name="Claire Infirmière",
            email="Claire@Example.org",
            profession="70",
            phone="0611111111",
            reason="Diplôme de kinésithérapeute vérifié",
        ),
    )
    assert response.status_code == 302
    professional.reload()
    assert professional.name == "Claire Infirmière"
    assert professional.email == "claire@example.org"
    assert professional.profession == "70"
    assert professional.phone == "0611111111"
    assert "Le compte est enregistré." in html(admin.get(f"/admin/utilisateurs/{professional.id}"))
    event = AuditEvent.objects(action="user.update").first()
    assert event.object_id == str(professional.id)
    assert event.details["profession"] == {"from": "60", "to": "70"}
    assert event.details["reason"] == "Diplôme de kinésithérapeute vérifié"


def test_suspend_and_reactivate_a_user(admin, professional, login_as):
    response = admin.post(
        f"/admin/utilisateurs/{professional.id}", edit_form(professional, status="suspended")
    )
    assert response.status_code == 302
    professional.reload()
    assert professional.status == "suspended"
    assert "Suspendu" in html(admin.get("/admin/utilisateurs"))
    browser = type(admin)(admin.client.application.test_client())
    assert "suspendu" in html(browser.login(professional))

    response = admin.post(
        f"/admin/utilisateurs/{professional.id}", edit_form(professional, status="active")
    )
    assert response.status_code == 302
    assert browser.login(professional).status_code == 302


def test_reset_a_users_password(admin, professional):
    response = admin.post(
        f"/admin/utilisateurs/{professional.id}",
        edit_form(professional, password="nouveau-mot-de-passe"),
    )
    assert response.status_code == 302
    professional.reload()
    assert verify_password(professional.password_hash, "nouveau-mot-de-passe")
    assert not verify_password(professional.password_hash, PASSWORD)


def test_saving_without_a_password_keeps_it(admin, professional):
    response = admin.post(
        f"/admin/utilisateurs/{professional.id}", edit_form(professional, password="")
    )
    assert response.status_code == 302
    professional.reload()
    assert verify_password(professional.password_hash, PASSWORD)


def test_grant_and_remove_platform_admin(admin, professional, login_as):
    response = admin.post(
        f"/admin/utilisateurs/{professional.id}", edit_form(professional, platform_admin="on")
    )
    assert response.status_code == 302
    professional.reload()
    assert professional.platform_admin is True
    assert login_as(professional).get("/admin/utilisateurs").status_code == 200

    form = edit_form(professional)
    del form["platform_admin"]  # an unticked box is not sent
    response = admin.post(f"/admin/utilisateurs/{professional.id}", form)
    assert response.status_code == 302
    professional.reload()
    assert professional.platform_admin is False
    assert login_as(professional).get("/admin/utilisateurs").status_code == 403


@pytest.mark.parametrize(
    "changes",
    [{"status": "suspended"}, {"status": "requested"}, {"platform_admin": None}],
    ids=["suspend", "requested", "drop-admin"],
)
def test_admin_cannot_suspend_or_demote_themself(admin, platform_admin, changes):
    before = snapshot()
    response = admin.post(
        f"/admin/utilisateurs/{platform_admin.id}", edit_form(platform_admin, **changes)
    )
    assert response.status_code == 400, html(response)
    assert "Vous ne pouvez pas suspendre votre propre compte" in html(response)
    assert snapshot() == before
    assert admin.get("/admin/utilisateurs").status_code == 200


def test_edit_user_with_a_taken_email(admin, professional, coordinator):
    before = snapshot()
    response = admin.post(
        f"/admin/utilisateurs/{professional.id}",
        edit_form(professional, email="COORD@example.org"),
    )
    assert response.status_code == 409
    page = html(response)
    assert DUPLICATE_EMAIL in page
    assert field_error(page, "email") == DUPLICATE_EMAIL
    assert snapshot() == before


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", REQUIRED),
        ({"email": ""}, "email", "Saisissez une adresse e-mail valide."),
        ({"email": "pas-une-adresse"}, "email", "Saisissez une adresse e-mail valide."),
        ({"password": "court"}, "password", "Saisissez au moins 12 caractères."),
        ({"status": "banni"}, "status", "Choisissez une valeur de la liste."),
        ({"phone": "appelez-moi"}, "phone", "Le format de la valeur est invalide."),
    ],
)
def test_edit_user_with_invalid_fields(admin, professional, changes, field, message):
    before = snapshot()
    response = admin.post(
        f"/admin/utilisateurs/{professional.id}", edit_form(professional, **changes)
    )
    assert response.status_code == 400, html(response)
    assert field_error(html(response), field) == message
    assert snapshot() == before


@pytest.mark.parametrize("user_id", ["000000000000000000000000", "pas-un-id"])
def test_edit_unknown_user(admin, user_id):
    response = admin.get(f"/admin/utilisateurs/{user_id}")
    assert response.status_code == 404
    assert "Ce compte n&#39;existe pas." in html(response)


# --- audit trail -----------------------------------------------------------------------------


def test_audit_trail_lists_events(admin, platform_admin, structure):
    admin.post("/structures/nouvelle", VALID_STRUCTURE)
    response = admin.get("/admin/journal")
    assert response.status_code == 200
    page = html(response)
    assert "Journal d&#39;audit" in page or "Journal d'audit" in page
    for action in ("structure.create", "login.success", "user.create"):
        assert f"<code>{action}</code>" in page
    assert "admin@example.org" in page
    # Newest first.
    assert page.index("<code>structure.create</code>") < page.index("<code>login.success</code>")


def test_audit_trail_filters_by_action(admin, web, professional):
    web.login(professional, "wrong-password-123")
    page = html(admin.get("/admin/journal?action=login.failure"))
    assert "<code>login.failure</code>" in page
    assert "<code>login.success</code>" not in page
    assert "<code>user.create</code>" not in page
    assert "reason : wrong_password" in page
    assert 'value="login.failure"' in page
    page = html(admin.get("/admin/journal?action=nothing.like.this"))
    assert "Aucun événement." in page


def test_audit_trail_escapes_recorded_values(admin, web):
    web.login('<script>alert("x")</script>@example.org', "wrong-password-123")
    page = html(admin.get("/admin/journal?action=login.failure"))
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page


def test_audit_trail_pages(admin, app, platform_admin):
    from app import audit

    for n in range(60):
        audit.record(platform_admin, "test.event", object_type="Test", object_id=str(n))
    page = html(admin.get("/admin/journal?action=test.event"))
    assert page.count("<code>test.event</code>") == 50
    assert "Plus récents" not in page
    older = re.search(r'href="(/admin/journal\?[^"]*before=\d+[^"]*)">Plus anciens', page)
    page = html(admin.get(older.group(1).replace("&amp;", "&")))
    assert page.count("<code>test.event</code>") == 10
    assert "Plus récents" in page
    assert "Plus anciens" not in page
    shown = [int(n) for n in re.findall(r"<td>Test <span[^>]*>(\d+)</span>", page)]
    assert shown == list(range(9, -1, -1))


def test_structure_names_are_escaped(admin, login_as, make_user):
    name = '<img src=x onerror="alert(1)">'
    response = admin.post("/structures/nouvelle", {**VALID_STRUCTURE, "name": name})
    assert response.status_code == 302
    structure = Structure.objects.get(key="ssiad-31")
    member = make_user(structure, roles=["structure_admin"], email="m@example.org")
    pages = [
        admin.get("/structures/"),  # with the flash message that names it
        admin.get("/structures/ssiad-31/modifier"),
        admin.get("/structures/ssiad-31/membres"),
        admin.get(f"/admin/utilisateurs/{member.id}"),
        login_as(member).get("/"),
    ]
    for response in pages:
        assert response.status_code == 200
        page = html(response)
        assert "<img src=x" not in page
        assert "&lt;img src=x" in page


def test_user_search_ignores_case_and_accents_and_word_order(admin, make_user):
    make_user(name="Hélène Lefèbvre", email="h.lefebvre@example.org")
    make_user(name="Hervé Lefort", email="herve@example.org")
    make_user(name="Anne Martin", email="amartin@example.org")

    def names(query):
        page = html(admin.get("/admin/utilisateurs", query_string={"q": query}))
        return re.findall(r'<div class="fw-semibold">([^<]+?)\s*(?:<|</div>)', page)

    assert names("LEFEBVRE") == ["Hélène Lefèbvre"]
    assert names("lef") == ["Hélène Lefèbvre", "Hervé Lefort"]
    assert names("lefebvre helene") == ["Hélène Lefèbvre"]
    assert names("herve@example") == ["Hervé Lefort"]
    assert names("martin zzz") == []


def test_a_password_reset_revokes_the_api_tokens(admin, professional, api_as):
    api = api_as(professional)
    assert api.get("/me").status_code == 200
    response = admin.post(
        f"/admin/utilisateurs/{professional.id}",
        {
            "email": professional.email,
            "name": professional.name,
            "status": "active",
            "password": "un-nouveau-mot-de-passe",
        },
    )
    assert response.status_code == 302
    assert api.get("/me").status_code == 401


def test_a_huge_before_is_clamped(admin, platform_admin):
    response = admin.get("/admin/journal?before=" + "9" * 40)
    assert response.status_code == 200
    assert "login.success" in html(response)
