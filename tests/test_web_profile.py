"""The profile page, password change and personal API tokens, through the HTML forms."""

import hashlib
import re

import mongoengine
import pytest
from helpers import PASSWORD, field_error, html

from app.accounts.models import ApiToken, User
from app.accounts.passwords import verify_password
from app.audit import AuditEvent

TOKEN_RE = re.compile(r'<code class="token-value" id="nouveau-jeton">([^<]+)</code>')


def raw(collection, **query):
    return list(mongoengine.get_db()[collection].find(query, sort=[("_id", 1)]))


@pytest.fixture
def browser(login_as, professional):
    return login_as(professional)


# --- profile ---------------------------------------------------------------------------------


def test_profile_shows_the_account(browser, professional):
    response = browser.get("/profil")
    assert response.status_code == 200
    page = html(response)
    assert "Mon profil" in page
    assert "pro@example.org" in page
    assert "Infirmière Pro" in page
    assert "Infirmier" in page  # shown, not a field: test_self_service.py


def test_profile_requires_login(web):
    response = web.get("/profil")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion")


def test_profile_edit(browser, professional):
    response = browser.post("/profil", {"phone": "05 61 00 00 00"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/profil"
    professional.reload()
    assert professional.phone == "05 61 00 00 00"
    page = html(browser.get("/profil"))
    assert "Votre profil est enregistré." in page
    assert 'value="05 61 00 00 00"' in page
    event = AuditEvent.objects(action="profile.update").first()
    assert event.object_id == str(professional.id)


def test_profile_edit_can_clear_the_phone(browser, professional):
    User.objects(id=professional.id).update_one(set__phone="0102030405")
    response = browser.post("/profil", {"phone": ""})
    assert response.status_code == 302
    professional.reload()
    assert professional.phone is None
    assert professional.profession == "60"


def test_profile_cannot_change_email_status_or_admin_flag(browser, professional):
    response = browser.post(
        "/profil",
        {
            "name": "Infirmière Pro",
            "email": "other@example.org",
            "platform_admin": "on",
            "status": "active",
            "memberships": "x",
        },
    )
    assert response.status_code == 302
    professional.reload()
    assert professional.email == "pro@example.org"
    assert professional.platform_admin is False


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"name": "N" * 201}, "name", "Saisissez au plus 200 caractères."),
        ({"profession": "astronaute"}, "profession", "Choisissez une valeur de la liste."),
        ({"phone": "appelez-moi"}, "phone", "Le format de la valeur est invalide."),
        ({"phone": "0" * 31}, "phone", "Saisissez au plus 30 caractères."),
    ],
    ids=["long-name", "unknown-profession", "bad-phone", "long-phone"],
)
def test_invalid_profile_is_refused_field_by_field(browser, professional, form, field, message):
    before = raw("users", _id=professional.id)
    response = browser.post("/profil", form)
    assert response.status_code == 400
    page = html(response)
    if field == "phone":
        assert field_error(page, field) == message
        assert f'id="f-{field}"' in page
    assert "Les données envoyées sont invalides." in page
    assert raw("users", _id=professional.id) == before
    assert AuditEvent.objects(action="profile.update").count() == 0


def test_invalid_profile_keeps_what_was_typed(browser, professional):
    response = browser.post("/profil", {"phone": "05 61 99 99 99 appelez"})
    assert response.status_code == 400
    page = html(response)
    assert 'value="05 61 99 99 99 appelez"' in page
    assert 'aria-invalid="true"' in page


def test_profile_name_is_escaped(login_as, make_user):
    user = make_user(name='<img src=x onerror="alert(1)">')
    page = html(login_as(user).get("/profil"))
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page


# --- password --------------------------------------------------------------------------------


def test_change_password(browser, professional):
    old_nonce = professional.session_nonce
    response = browser.post(
        "/profil/mot-de-passe",
        {"current_password": PASSWORD, "new_password": "un-nouveau-mot-de-passe"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/profil"
    professional.reload()
    assert verify_password(professional.password_hash, "un-nouveau-mot-de-passe")
    assert not verify_password(professional.password_hash, PASSWORD)
    assert professional.session_nonce != old_nonce
    assert "Votre mot de passe est modifié." in html(browser.get("/profil"))
    assert AuditEvent.objects(action="profile.password_change").count() == 1
    browser.logout()
    assert browser.login(professional).status_code == 401
    assert browser.login(professional, "un-nouveau-mot-de-passe").status_code == 302


def test_change_to_a_password_longer_than_72_characters(browser, professional):
    """The strength estimator stops at 72 characters; the form takes up to 200."""
    password = "gouttière-hibou-ravioli-sextant-" * 6
    response = browser.post(
        "/profil/mot-de-passe", {"current_password": PASSWORD, "new_password": password}
    )
    assert response.status_code == 302
    professional.reload()
    assert verify_password(professional.password_hash, password)


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        (
            {"current_password": "pas-le-bon-mot", "new_password": "un-nouveau-mot-de-passe"},
            "current_password",
            "Le mot de passe actuel est incorrect.",
        ),
        (
            {"current_password": PASSWORD, "new_password": "court"},
            "new_password",
            "Saisissez au moins 12 caractères.",
        ),
        (
            {"current_password": PASSWORD, "new_password": ""},
            "new_password",
            "Ce champ est obligatoire.",
        ),
        (
            {"current_password": "", "new_password": "un-nouveau-mot-de-passe"},
            "current_password",
            "Ce champ est obligatoire.",
        ),
        (
            {"current_password": PASSWORD, "new_password": "x" * 201},
            "new_password",
            "Saisissez au plus 200 caractères.",
        ),
    ],
    ids=["wrong-current", "too-short", "empty-new", "empty-current", "too-long"],
)
def test_refused_password_change(browser, professional, form, field, message):
    before = raw("users", _id=professional.id)
    response = browser.post("/profil/mot-de-passe", form)
    assert response.status_code == 400
    page = html(response)
    assert field_error(page, field) == message
    # Passwords are never sent back.
    for value in form.values():
        if len(value) >= 5:
            assert f'value="{value}"' not in page
    assert raw("users", _id=professional.id) == before
    # This session is still open, and the old password still works.
    assert browser.get("/").status_code == 200
    assert AuditEvent.objects(action="profile.password_change").count() == 0


# --- API tokens ------------------------------------------------------------------------------


def create_token(browser, name="logiciel du cabinet"):
    response = browser.post("/profil/jetons", {"name": name})
    assert response.status_code == 200, html(response)
    match = TOKEN_RE.search(html(response))
    assert match, "the new token is shown"
    return match.group(1)


def test_tokens_page(browser):
    response = browser.get("/profil/jetons")
    assert response.status_code == 200
    page = html(response)
    assert "Mes jetons d'API" in page
    assert "Vous n'avez aucun jeton." in page
    assert "nouveau-jeton" not in page


def test_create_token_shows_it_once_and_stores_only_its_hash(browser, professional, app):
    plain = create_token(browser)
    assert plain.startswith("prc_")
    assert len(plain) > 30

    stored = raw("api_tokens")
    assert len(stored) == 1
    assert stored[0]["user"] == professional.id
    assert stored[0]["name"] == "logiciel du cabinet"
    assert stored[0]["token_hash"] == hashlib.sha256(plain.encode()).hexdigest()
    assert plain not in str(stored)
    assert plain not in str([e.to_mongo() for e in AuditEvent.objects])

    page = html(browser.get("/profil/jetons"))
    assert plain not in page
    assert "nouveau-jeton" not in page
    assert "logiciel du cabinet" in page
    assert f"{plain[:10]}…" in page  # only its start, to recognise it
    assert "Actif" in page

    response = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 200
    assert response.json["email"] == professional.email


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Ce champ est obligatoire."),
        ("   ", "Ce champ est obligatoire."),
        ("n" * 101, "Saisissez au plus 100 caractères."),
    ],
    ids=["empty", "blank", "too-long"],
)
def test_invalid_token_name(browser, name, message):
    response = browser.post("/profil/jetons", {"name": name})
    assert response.status_code == 400
    page = html(response)
    assert field_error(page, "name") == message
    assert "nouveau-jeton" not in page
    assert raw("api_tokens") == []


def test_revoke_token(browser, professional, app):
    plain = create_token(browser)
    token = ApiToken.objects.get(user=professional.id)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {plain}"}
    assert api.get("/api/v1/me", headers=headers).status_code == 200

    response = browser.post(f"/profil/jetons/{token.id}/revoquer")
    assert response.status_code == 302
    assert response.headers["Location"] == "/profil/jetons"
    token.reload()
    assert token.revoked_at is not None
    page = html(browser.get("/profil/jetons"))
    assert "Le jeton est révoqué" in page
    assert "Révoqué le" in page

    response = api.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert AuditEvent.objects(action="token.revoke", object_id=str(token.id)).count() == 1


def test_revoking_twice_changes_nothing(browser, professional):
    create_token(browser)
    token = ApiToken.objects.get(user=professional.id)
    browser.post(f"/profil/jetons/{token.id}/revoquer")
    token.reload()
    first = token.revoked_at
    response = browser.post(f"/profil/jetons/{token.id}/revoquer")
    assert response.status_code == 302
    token.reload()
    assert token.revoked_at == first
    assert AuditEvent.objects(action="token.revoke").count() == 1


@pytest.mark.parametrize("token_id", ["another-users", "000000000000000000000000", "pas-un-id"])
def test_revoking_a_token_that_is_not_mine_is_not_found(
    browser, professional, coordinator, api_as, token_id
):
    api = api_as(coordinator)
    theirs = ApiToken.objects.get(user=coordinator.id)
    if token_id == "another-users":
        token_id = str(theirs.id)
    before = raw("api_tokens")
    response = browser.post(f"/profil/jetons/{token_id}/revoquer")
    assert response.status_code == 404
    page = html(response)
    assert "Ce jeton n&#39;existe pas." in page
    assert '<html lang="fr">' in page
    assert raw("api_tokens") == before
    assert api.get("/me").status_code == 200


def test_tokens_of_others_are_not_listed(browser, coordinator, api_as):
    api_as(coordinator)
    theirs = ApiToken.objects.get(user=coordinator.id)
    page = html(browser.get("/profil/jetons"))
    assert "Vous n'avez aucun jeton." in page
    assert theirs.prefix not in page
    assert str(theirs.id) not in page


def test_token_name_is_escaped(browser):
    name = '<script>alert("x")</script>'
    response = browser.post("/profil/jetons", {"name": name})
    assert response.status_code == 200
    for page in (html(response), html(browser.get("/profil/jetons"))):
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert ApiToken.objects.get().name == name  # stored as typed, escaped on display


def test_token_of_a_suspended_account_is_refused(browser, professional, app):
    plain = create_token(browser)
    User.objects(id=professional.id).update_one(set__status="suspended")
    response = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 401


def test_tokens_page_requires_login(web, professional, api_as):
    api_as(professional)
    token = ApiToken.objects.get(user=professional.id)
    assert web.get("/profil/jetons").status_code == 302
    response = web.post(f"/profil/jetons/{token.id}/revoquer")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion")
    token.reload()
    assert token.revoked_at is None
