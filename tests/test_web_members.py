"""Members of a structure, managed through the HTML pages by its admin or the platform admin."""

import re
from urllib.parse import urlsplit

import pytest
from helpers import field_error, html, snapshot

from app.accounts.models import User
from app.accounts.passwords import verify_password
from app.audit import AuditEvent

FORBIDDEN = "Vous n&#39;avez pas le droit"
NOT_A_MEMBER = "Ce membre n&#39;existe pas dans cette structure."
ALREADY = "Cette personne est déjà membre de la structure."
FOR_NEW_ACCOUNT = "Ce champ est obligatoire pour créer le compte."
MANAGE = "Gérer les membres"


def roles_of(user, structure):
    user.reload()
    return user.roles_in(structure.id)


@pytest.fixture
def manager(login_as, structure_admin):
    """The structure admin of "dac-test", signed in."""
    return login_as(structure_admin)


@pytest.fixture
def outsider(make_user, other_structure):
    """A member of the other structure only."""
    return make_user(
        other_structure, roles=["coordinator"], email="ailleurs@example.org", name="Membre Ailleurs"
    )


@pytest.fixture
def loner(make_user):
    """An account that belongs to no structure."""
    return make_user(email="seul@example.org", name="Compte Seul", profession="10")


# --- the structure admin on their own structure ----------------------------------------------


def test_member_list(manager, structure_admin, professional, coordinator, outsider):
    response = manager.get("/structures/dac-test/membres")
    assert response.status_code == 200
    page = html(response)
    assert "DAC de test" in page
    for member in (structure_admin, professional, coordinator):
        assert member.email in page
    for member in (professional, coordinator):
        assert f"/structures/dac-test/membres/{member.id}/retirer" in page
    # Not oneself: another admin changes one's roles (test_self_service.py).
    assert f"/structures/dac-test/membres/{structure_admin.id}/retirer" not in page
    assert outsider.email not in page
    # Each member's roles are ticked.
    assert re.search(rf'id="m{professional.id}-professional"\s+checked', page)
    assert not re.search(rf'id="m{professional.id}-coordinator"\s+checked', page)


def test_add_an_existing_account(manager, structure_admin, structure, loner):
    response = manager.post(
        "/structures/dac-test/membres",
        {"email": " SEUL@example.org ", "roles": ["coordinator", "professional"]},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/structures/dac-test/membres"
    assert roles_of(loner, structure) == {"coordinator", "professional"}
    assert loner.name == "Compte Seul"  # the account itself is unchanged
    assert verify_password(loner.password_hash, "correct-horse-battery")
    page = html(manager.get("/structures/dac-test/membres"))
    assert "Compte Seul est membre de la structure." in page
    assert "seul@example.org" in page
    event = AuditEvent.objects(action="member.add").first()
    assert event.actor == str(structure_admin.id)
    assert event.object_id == str(loner.id)
    assert event.details == {"structure": "dac-test", "roles": ["coordinator", "professional"]}


def test_add_an_existing_member_of_another_structure(manager, structure, outsider):
    response = manager.post(
        "/structures/dac-test/membres", {"email": outsider.email, "roles": "professional"}
    )
    assert response.status_code == 302
    outsider.reload()
    assert outsider.roles_in(structure.id) == {"professional"}
    assert len(outsider.memberships) == 2  # the other membership is kept


def test_add_a_new_account(manager, structure, app, login_as, platform_admin):
    response = manager.post(
        "/structures/dac-test/membres",
        {
            "email": "nouvelle@example.org",
            "roles": "professional",
            "name": "Nouvelle Recrue",
            "profession": "70",
            "password": "mot-de-passe-initial",
            "platform_admin": "on",
            "status": "active",
        },
    )
    assert response.status_code == 302, html(response)
    user = User.objects.get(email="nouvelle@example.org")
    assert user.name == "Nouvelle Recrue"
    assert user.profession == "70"
    assert user.status == "requested"  # the platform team verifies it before first sign-in
    assert user.platform_admin is False  # a structure admin cannot make platform admins
    assert user.roles_in(structure.id) == {"professional"}
    assert len(user.memberships) == 1
    assert verify_password(user.password_hash, "mot-de-passe-initial")
    assert AuditEvent.objects(action="user.create", object_id=str(user.id)).count() == 1
    assert AuditEvent.objects(action="member.add", object_id=str(user.id)).count() == 1
    browser = type(manager)(app.test_client())
    refused = browser.login("nouvelle@example.org", "mot-de-passe-initial")
    assert refused.status_code == 401
    assert "pas encore activé" in html(refused)
    admin = login_as(platform_admin)
    admin.post(
        f"/admin/utilisateurs/{user.id}",
        {"email": user.email, "name": user.name, "status": "active"},
    )
    assert browser.login("nouvelle@example.org", "mot-de-passe-initial").status_code == 302


@pytest.mark.parametrize(
    ("form", "missing"),
    [
        ({}, ["name", "password"]),
        ({"name": "Nouvelle Recrue"}, ["password"]),
        ({"password": "mot-de-passe-initial"}, ["name"]),
    ],
    ids=["nothing", "no-password", "no-name"],
)
def test_a_new_account_needs_a_name_and_a_password(manager, form, missing):
    before = snapshot()
    response = manager.post(
        "/structures/dac-test/membres",
        {"email": "nouvelle@example.org", "roles": "professional", **form},
    )
    assert response.status_code == 400, html(response)
    page = html(response)
    assert (
        "Aucun compte n&#39;existe avec cette adresse : "
        "renseignez le nom et un mot de passe pour le créer."
    ) in page
    for field in ("name", "password"):
        expected = FOR_NEW_ACCOUNT if field in missing else None
        assert field_error(page, field) == expected, field
    assert 'value="nouvelle@example.org"' in page  # what was typed is kept
    assert re.search(r'id="new-professional"\s+checked', page)
    assert "mot-de-passe-initial" not in page
    assert snapshot() == before


def test_a_blank_name_is_no_name(manager):
    before = snapshot()
    response = manager.post(
        "/structures/dac-test/membres",
        {
            "email": "nouvelle@example.org",
            "roles": "professional",
            "name": "   ",
            "password": "mot-de-passe-initial",
        },
    )
    assert response.status_code == 400
    assert field_error(html(response), "name") == "Ce champ est obligatoire."
    assert snapshot() == before


def test_a_forged_role_is_refused(manager):
    """The form only offers the known roles: another value is refused, and nothing written."""
    before = snapshot()
    response = manager.post(
        "/structures/dac-test/membres",
        {
            "email": "nouvelle@example.org",
            "roles": "empereur",
            "name": "N",
            "password": "mot-de-passe-initial",
        },
    )
    assert response.status_code == 400
    assert "Les données envoyées sont invalides." in html(response)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("form", "check"),
    [
        ({"email": "nouvelle@example.org"}, ("roles", "Choisissez au moins un élément.")),
        (
            {"email": "pas-une-adresse", "roles": "professional"},
            ("email", "Saisissez une adresse e-mail valide."),
        ),
        ({"email": "", "roles": "professional"}, ("email", "Ce champ est obligatoire.")),
        (
            {
                "email": "nouvelle@example.org",
                "roles": "professional",
                "name": "N",
                "password": "court",
            },
            ("password", "Saisissez au moins 12 caractères."),
        ),
        (
            {
                "email": "nouvelle@example.org",
                "roles": "professional",
                "name": "N",
                "password": "mot-de-passe-initial",
                "profession": "astronaute",
            },
            ("profession", "Choisissez une valeur de la liste."),
        ),
    ],
    ids=["no-role", "bad-email", "no-email", "short-password", "unknown-profession"],
)
def test_invalid_member_form(manager, form, check):
    before = snapshot()
    response = manager.post("/structures/dac-test/membres", form)
    assert response.status_code == 400, html(response)
    page = html(response)
    field, message = check
    if field == "roles":
        assert re.search(rf'<div class="text-danger small">{message}</div>', page)
    else:
        assert field_error(page, field) == message
    assert snapshot() == before


@pytest.mark.parametrize("email", ["pro@example.org", "PRO@EXAMPLE.ORG"])
def test_adding_a_member_twice_is_a_conflict(manager, professional, structure, email):
    before = snapshot()
    response = manager.post(
        "/structures/dac-test/membres", {"email": email, "roles": "structure_admin"}
    )
    assert response.status_code == 409
    page = html(response)
    assert ALREADY in page
    assert field_error(page, "email") == ALREADY
    assert snapshot() == before
    assert roles_of(professional, structure) == {"professional"}


def test_change_roles(manager, professional, structure):
    response = manager.post(
        f"/structures/dac-test/membres/{professional.id}/roles",
        {"roles": ["coordinator", "structure_admin"]},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/structures/dac-test/membres"
    assert roles_of(professional, structure) == {"coordinator", "structure_admin"}
    assert "Les rôles de Infirmière Pro sont enregistrés." in html(
        manager.get("/structures/dac-test/membres")
    )
    event = AuditEvent.objects(action="member.roles").first()
    assert event.object_id == str(professional.id)
    assert event.details["roles"] == ["coordinator", "structure_admin"]


def test_change_roles_touches_only_this_structure(manager, make_user, structure, other_structure):
    both = make_user(other_structure, roles=["coordinator"], email="deux@example.org")
    User.objects(id=both.id).update_one(
        push__memberships={"structure": structure.id, "roles": ["professional"]}
    )
    response = manager.post(
        f"/structures/dac-test/membres/{both.id}/roles", {"roles": "structure_admin"}
    )
    assert response.status_code == 302
    assert roles_of(both, structure) == {"structure_admin"}
    assert roles_of(both, other_structure) == {"coordinator"}


def test_invalid_roles_are_refused(manager, professional, structure):
    before = snapshot()
    response = manager.post(
        f"/structures/dac-test/membres/{professional.id}/roles", {"roles": "empereur"}
    )
    assert response.status_code == 400
    assert '<html lang="fr">' in html(response)
    assert snapshot() == before


def test_no_role_left_removes_the_member(manager, professional, structure):
    response = manager.post(f"/structures/dac-test/membres/{professional.id}/roles", {})
    assert response.status_code == 302
    professional.reload()
    assert professional.roles_in(structure.id) == set()
    assert list(professional.memberships) == []
    assert professional.status == "active"  # the account stays
    assert AuditEvent.objects(action="member.remove", object_id=str(professional.id)).count()
    assert professional.email not in html(manager.get("/structures/dac-test/membres"))


def test_remove_member(manager, make_user, structure, other_structure):
    both = make_user(
        other_structure, roles=["coordinator"], email="deux@example.org", name="Double Appartenance"
    )
    User.objects(id=both.id).update_one(
        push__memberships={"structure": structure.id, "roles": ["professional"]}
    )
    response = manager.post(f"/structures/dac-test/membres/{both.id}/retirer")
    assert response.status_code == 302
    assert response.headers["Location"] == "/structures/dac-test/membres"
    assert roles_of(both, structure) == set()
    assert roles_of(both, other_structure) == {"coordinator"}
    page = html(manager.get("/structures/dac-test/membres"))
    assert "Double Appartenance ne fait plus partie de la structure." in page
    assert "deux@example.org" not in page
    event = AuditEvent.objects(action="member.remove").first()
    assert event.object_id == str(both.id)
    assert event.details == {"structure": "dac-test"}


def test_removed_member_loses_access(manager, login_as, make_user, structure):
    second_admin = make_user(structure, roles=["structure_admin"], email="admin2@example.org")
    browser = login_as(second_admin)
    assert browser.get("/structures/dac-test/membres").status_code == 200
    assert manager.post(f"/structures/dac-test/membres/{second_admin.id}/retirer").status_code == (
        302
    )
    assert browser.get("/structures/dac-test/membres").status_code == 403


def test_admin_whose_admin_role_another_admin_removes_loses_access(
    manager, login_as, make_user, structure, structure_admin
):
    second_admin = make_user(structure, roles=["structure_admin"])
    response = login_as(second_admin).post(
        f"/structures/dac-test/membres/{structure_admin.id}/roles", {"roles": "professional"}
    )
    assert response.status_code == 302
    assert manager.get("/structures/dac-test/membres").status_code == 403


# --- the structure admin on another structure ------------------------------------------------


def other_structure_routes(outsider, loner):
    return [
        ("GET", "/structures/autre/membres", None),
        ("POST", "/structures/autre/membres", {"email": loner.email, "roles": "structure_admin"}),
        (
            "POST",
            "/structures/autre/membres",
            {
                "email": "pirate@example.org",
                "roles": "structure_admin",
                "name": "Pirate",
                "password": "mot-de-passe-pirate",
            },
        ),
        ("POST", "/structures/autre/membres", {"email": "", "roles": ""}),
        ("POST", f"/structures/autre/membres/{outsider.id}/roles", {"roles": "professional"}),
        ("POST", f"/structures/autre/membres/{outsider.id}/roles", {}),
        ("POST", f"/structures/autre/membres/{outsider.id}/retirer", {}),
    ]


OTHER_ROUTE_IDS = [
    "list",
    "add-existing",
    "add-new",
    "add-invalid",
    "roles",
    "roles-empty",
    "remove",
]


@pytest.mark.parametrize("index", range(len(OTHER_ROUTE_IDS)), ids=OTHER_ROUTE_IDS)
def test_structure_admin_cannot_manage_another_structure(
    manager, outsider, loner, other_structure, index
):
    method, url, data = other_structure_routes(outsider, loner)[index]
    before = snapshot()
    response = manager.get(url) if method == "GET" else manager.post(url, data)
    assert response.status_code == 403, html(response)
    page = html(response)
    assert FORBIDDEN in page
    assert outsider.email not in page
    assert snapshot() == before


def test_structure_admin_cannot_reach_a_member_of_another_structure_through_their_own(
    manager, outsider, other_structure
):
    """A member id that is not in the structure of the URL is not found, and nothing changes."""
    before = snapshot()
    for url, data in [
        (f"/structures/dac-test/membres/{outsider.id}/roles", {"roles": "professional"}),
        (f"/structures/dac-test/membres/{outsider.id}/roles", {}),
        (f"/structures/dac-test/membres/{outsider.id}/retirer", {}),
    ]:
        response = manager.post(url, data)
        assert response.status_code == 404, url
        assert NOT_A_MEMBER in html(response)
    assert snapshot() == before


@pytest.mark.parametrize(
    "user_id", ["000000000000000000000000", "pas-un-id", "{loner}"], ids=["unknown", "bad", "loner"]
)
@pytest.mark.parametrize("action", ["roles", "retirer"])
def test_unknown_member_is_not_found(manager, loner, user_id, action):
    before = snapshot()
    response = manager.post(
        f"/structures/dac-test/membres/{user_id.format(loner=loner.id)}/{action}",
        {"roles": "professional"},
    )
    assert response.status_code == 404
    assert NOT_A_MEMBER in html(response)
    assert snapshot() == before


def test_unknown_structure_is_not_found(manager):
    response = manager.get("/structures/inconnue/membres")
    assert response.status_code == 404
    assert "Cette structure n&#39;existe pas." in html(response)


# --- other roles -----------------------------------------------------------------------------


def own_structure_routes(professional, loner):
    return [
        ("GET", "/structures/dac-test/membres", None),
        ("POST", "/structures/dac-test/membres", {"email": loner.email, "roles": "professional"}),
        (
            "POST",
            "/structures/dac-test/membres",
            {
                "email": "nouveau@example.org",
                "roles": "structure_admin",
                "name": "Nouveau",
                "password": "mot-de-passe-initial",
            },
        ),
        (
            "POST",
            f"/structures/dac-test/membres/{professional.id}/roles",
            {"roles": "structure_admin"},
        ),
        ("POST", f"/structures/dac-test/membres/{professional.id}/retirer", {}),
    ]


OWN_ROUTE_IDS = ["list", "add-existing", "add-new", "roles", "remove"]


@pytest.mark.parametrize("role", ["professional", "coordinator"])
@pytest.mark.parametrize("index", range(len(OWN_ROUTE_IDS)), ids=OWN_ROUTE_IDS)
def test_members_are_managed_only_by_admins(
    request, login_as, professional, coordinator, loner, role, index
):
    browser = login_as(request.getfixturevalue(role))
    method, url, data = own_structure_routes(professional, loner)[index]
    before = snapshot()
    response = browser.get(url) if method == "GET" else browser.post(url, data)
    assert response.status_code == 403, html(response)
    assert FORBIDDEN in html(response)
    assert snapshot() == before


@pytest.mark.parametrize("index", range(len(OWN_ROUTE_IDS)), ids=OWN_ROUTE_IDS)
def test_anonymous_visitors_are_sent_to_login(web, professional, loner, index):
    method, url, data = own_structure_routes(professional, loner)[index]
    before = snapshot()
    response = web.get(url) if method == "GET" else web.post(url, data)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/connexion"
    assert snapshot() == before


def test_suspended_structure_admin_cannot_manage(login_as, structure_admin, professional):
    browser = login_as(structure_admin)
    User.objects(id=structure_admin.id).update_one(set__status="suspended")
    before = snapshot()
    response = browser.post(f"/structures/dac-test/membres/{professional.id}/retirer")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/connexion"
    assert snapshot() == before


# --- the platform admin ----------------------------------------------------------------------


def test_platform_admin_manages_any_structure(
    login_as, platform_admin, outsider, loner, other_structure, structure
):
    admin = login_as(platform_admin)
    page = html(admin.get("/structures/autre/membres"))
    assert outsider.email in page

    response = admin.post(
        "/structures/autre/membres", {"email": loner.email, "roles": "structure_admin"}
    )
    assert response.status_code == 302
    assert roles_of(loner, other_structure) == {"structure_admin"}

    response = admin.post(
        f"/structures/autre/membres/{outsider.id}/roles", {"roles": ["professional", "coordinator"]}
    )
    assert response.status_code == 302
    assert roles_of(outsider, other_structure) == {"professional", "coordinator"}

    response = admin.post(f"/structures/autre/membres/{outsider.id}/retirer")
    assert response.status_code == 302
    assert roles_of(outsider, other_structure) == set()

    response = admin.post(
        "/structures/dac-test/membres",
        {
            "email": "cree@example.org",
            "roles": "professional",
            "name": "Créé Par Admin",
            "password": "mot-de-passe-initial",
        },
    )
    assert response.status_code == 302
    assert roles_of(User.objects.get(email="cree@example.org"), structure) == {"professional"}


def test_new_structure_admin_can_then_manage(
    login_as, platform_admin, loner, structure, other_structure
):
    admin = login_as(platform_admin)
    admin.post("/structures/autre/membres", {"email": loner.email, "roles": "structure_admin"})
    browser = login_as(loner)
    assert browser.get("/structures/autre/membres").status_code == 200
    assert browser.get("/structures/dac-test/membres").status_code == 403


# --- the home page ---------------------------------------------------------------------------


def test_home_offers_member_management_to_the_structure_admin(manager):
    page = html(manager.get("/"))
    assert MANAGE in page
    assert 'href="/structures/dac-test/membres"' in page
    assert "Ma structure" in page


@pytest.mark.parametrize("role", ["professional", "coordinator"])
def test_home_does_not_offer_member_management_to_others(request, login_as, role):
    page = html(login_as(request.getfixturevalue(role)).get("/"))
    assert "DAC de test" in page
    assert MANAGE not in page
    assert "/structures/dac-test/membres" not in page


def test_home_offers_management_only_for_the_administered_structure(
    login_as, make_user, structure, other_structure
):
    user = make_user(structure, roles=["structure_admin"], email="mixte@example.org")
    User.objects(id=user.id).update_one(
        push__memberships={"structure": other_structure.id, "roles": ["professional"]}
    )
    page = html(login_as(user).get("/"))
    assert "DAC de test" in page
    assert "Autre structure" in page
    assert page.count(MANAGE) == 1
    assert 'href="/structures/dac-test/membres"' in page
    assert 'href="/structures/autre/membres"' not in page


def test_home_offers_management_to_a_platform_admin_member(login_as, make_user, structure):
    user = make_user(structure, roles=["professional"], email="pa@example.org", platform_admin=True)
    page = html(login_as(user).get("/"))
    assert MANAGE in page
    assert 'href="/structures/dac-test/membres"' in page


def test_home_without_structure(login_as, loner):
    page = html(login_as(loner).get("/"))
    assert "Vous n'êtes membre d'aucune structure." in page
    assert MANAGE not in page


def test_member_names_are_escaped(manager):
    name = "<script>alert(1)</script>"
    response = manager.post(
        "/structures/dac-test/membres",
        {
            "email": "xss@example.org",
            "roles": "professional",
            "name": name,
            "password": "mot-de-passe-initial",
        },
    )
    assert response.status_code == 302
    page = html(manager.get("/structures/dac-test/membres"))  # list and flash message
    assert "<script>alert(1)" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2
