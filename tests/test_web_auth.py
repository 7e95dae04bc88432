"""Sign-in, sign-out, sessions and the security of the HTML pages, through the test client."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import mongoengine
import pytest
from helpers import PASSWORD, html, snapshot

from app import create_app
from app.accounts import links
from app.accounts.models import User
from app.audit import AuditEvent
from app.clock import travel

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
BAD_CREDENTIALS = "Adresse e-mail ou mot de passe incorrect."
CSRF_MESSAGE = "Le formulaire a expiré ou n&#39;est pas valide."


def location(response):
    return urlsplit(response.headers["Location"])


def session_user_id(client):
    with client.session_transaction() as session:
        return session.get("_user_id")


def is_logged_in(browser):
    response = browser.get("/")
    return response.status_code == 200


# --- sign-in ---------------------------------------------------------------------------------


def test_login_page_is_french(web):
    response = web.get("/connexion")
    assert response.status_code == 200
    page = html(response)
    assert '<html lang="fr">' in page
    assert "Connexion" in page
    assert 'name="csrf_token"' in page


def test_login_success_redirects_home_and_opens_a_session(web, professional):
    response = web.login(professional)
    assert response.status_code == 302
    assert location(response).path == "/"
    professional.reload()
    assert session_user_id(web.client) == f"{professional.id}:{professional.session_nonce}"
    assert professional.last_login_at is not None
    page = html(web.get("/"))
    assert "Bienvenue, Infirmière Pro." in page
    assert "Bonjour Infirmière Pro" in page


def test_login_ignores_case_and_spaces_of_the_email(web, professional):
    response = web.login("  PRO@Example.org ")
    assert response.status_code == 302
    assert is_logged_in(web)


def test_logged_in_user_visiting_login_goes_home(web, professional):
    web.login(professional)
    response = web.get("/connexion")
    assert response.status_code == 302
    assert location(response).path == "/"


def test_home_requires_login(web):
    response = web.get("/")
    assert response.status_code == 302
    assert location(response).path == "/connexion"
    follow = web.get(response.headers["Location"])
    assert "Connectez-vous pour accéder à cette page." in html(follow)


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("pro@example.org", "wrong-password-123"),
        ("nobody@example.org", PASSWORD),
        ("nobody@example.org", "wrong-password-123"),
        ("", ""),
    ],
    ids=["wrong-password", "unknown-email", "unknown-both", "empty"],
)
def test_failed_login_gives_the_same_french_message(web, professional, email, password):
    response = web.post("/connexion", {"email": email, "password": password})
    assert response.status_code == 401
    page = html(response)
    assert BAD_CREDENTIALS in page
    assert '<html lang="fr">' in page
    assert session_user_id(web.client) is None
    assert not is_logged_in(web)


def test_failed_login_keeps_the_email_but_not_the_password(web, professional):
    response = web.post(
        "/connexion", {"email": "pro@example.org", "password": "secret-typed-wrong"}
    )
    page = html(response)
    assert 'value="pro@example.org"' in page
    assert "secret-typed-wrong" not in page


# --- lockout: per account and address --------------------------------------------------------

ATTACKER, OWNER = "203.0.113.66", "198.51.100.7"
ALERT_RE = re.compile(r'<div class="alert alert-danger" role="alert">([^<]*)</div>')


def sign_in_from(browser, address, email, password):
    return browser.post(
        "/connexion", {"email": email, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def lock_from(browser, address, user):
    for attempt in range(5):
        response = sign_in_from(browser, address, user.email, "wrong-password-123")
        assert response.status_code == 401, attempt
        assert ALERT_RE.search(html(response)).group(1) == BAD_CREDENTIALS


def test_failures_lock_the_account_from_their_address_only(web, app, professional):
    assert app.config["LOGIN_MAX_FAILURES"] == 5
    lock_from(web, ATTACKER, professional)
    response = sign_in_from(web, ATTACKER, professional.email, PASSWORD)  # right, but locked
    assert response.status_code == 401
    assert session_user_id(web.client) is None
    assert not is_logged_in(web)
    # The account's owner, elsewhere, signs in.
    owner = type(web)(app.test_client())
    assert sign_in_from(owner, OWNER, professional.email, PASSWORD).status_code == 302
    assert is_logged_in(owner)
    reasons = [e.details["reason"] for e in AuditEvent.objects(action="login.failure")]
    assert reasons.count("wrong_password") == 5
    assert reasons.count("locked") == 1


def test_nobody_locks_the_platform_admin_out(web, app, platform_admin):
    lock_from(web, ATTACKER, platform_admin)
    admin = type(web)(app.test_client())
    assert sign_in_from(admin, OWNER, platform_admin.email, PASSWORD).status_code == 302


def test_a_locked_account_answers_as_an_unknown_one(web, professional):
    """Nothing tells an attacker that the account exists, nor that it is locked."""
    lock_from(web, ATTACKER, professional)
    locked = sign_in_from(web, ATTACKER, professional.email, PASSWORD)
    for _ in range(2):  # the rate limit (10 a minute) is the only limit of unknown accounts
        unknown = sign_in_from(web, ATTACKER, "nobody@example.org", PASSWORD)
    assert locked.status_code == unknown.status_code == 401
    assert ALERT_RE.findall(html(locked)) == ALERT_RE.findall(html(unknown)) == [BAD_CREDENTIALS]
    assert "verrouill" not in html(locked)
    assert "Réessayez" not in html(locked)


def test_failures_below_the_limit_are_forgotten_after_a_success(web, app, professional):
    for _ in range(4):
        assert sign_in_from(web, ATTACKER, professional.email, "wrong-pass-1").status_code == 401
    assert sign_in_from(web, ATTACKER, professional.email, PASSWORD).status_code == 302
    again = type(web)(app.test_client())
    for _ in range(4):
        assert sign_in_from(again, ATTACKER, professional.email, "wrong-pass-2").status_code == 401
    assert sign_in_from(again, ATTACKER, professional.email, PASSWORD).status_code == 302


def test_lock_expires(web, professional):
    lock_from(web, ATTACKER, professional)
    with travel(timedelta(minutes=14)):
        assert sign_in_from(web, ATTACKER, professional.email, PASSWORD).status_code == 401
    with travel(timedelta(minutes=16)):
        assert sign_in_from(web, ATTACKER, professional.email, PASSWORD).status_code == 302


def test_failures_are_forgotten_after_the_lock_time(web, professional):
    for _ in range(4):
        sign_in_from(web, ATTACKER, professional.email, "wrong-password-123")
    with travel(timedelta(minutes=16)):
        sign_in_from(web, ATTACKER, professional.email, "wrong-password-123")  # the first again
        assert sign_in_from(web, ATTACKER, professional.email, PASSWORD).status_code == 302


def test_a_new_password_by_link_unlocks_every_address(web, professional):
    lock_from(web, ATTACKER, professional)
    token = links.link_for(professional, "reset").rsplit("/", 1)[1]
    response = web.post(
        f"/mot-de-passe/{token}",
        {"password": "une-phrase-toute-neuve", "confirmation": "une-phrase-toute-neuve"},
    )
    assert response.status_code == 302
    response = sign_in_from(web, ATTACKER, professional.email, "une-phrase-toute-neuve")
    assert response.status_code == 302


def test_the_client_address_is_not_kept_in_clear(web, professional):
    lock_from(web, ATTACKER, professional)
    stored = str(list(mongoengine.get_db()["login_throttles"].find()))
    assert stored != "[]"
    assert ATTACKER not in stored


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("suspended", "Ce compte est suspendu. Contactez l&#39;administrateur de la plateforme."),
        ("requested", "Ce compte n&#39;est pas encore activé."),
        ("verified", "Ce compte n&#39;est pas encore activé."),
    ],
)
def test_inactive_accounts_cannot_log_in(web, make_user, status, message):
    user = make_user(status=status)
    response = web.login(user)
    assert response.status_code == 401
    assert message in html(response)
    assert session_user_id(web.client) is None
    assert not is_logged_in(web)
    event = AuditEvent.objects(action="login.failure").first()
    assert event.details["reason"] == f"status_{status}"
    assert event.object_id == str(user.id)


def test_inactive_account_with_wrong_password_gets_the_generic_message(web, make_user):
    user = make_user(status="suspended")
    response = web.login(user, "wrong-password-123")
    assert response.status_code == 401
    page = html(response)
    assert BAD_CREDENTIALS in page
    assert "suspendu" not in page


# --- next: no open redirect ------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "https://evil.example/",
        "//evil.example",
        "//evil.example/structures/",
        "http:evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_next_never_leaves_the_site(web, professional, target):
    response = web.post(
        "/connexion",
        {"email": professional.email, "password": PASSWORD},
        query_string={"next": target},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_to_a_local_page_is_followed(web, platform_admin):
    response = web.get("/admin/journal?action=login.success")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert location(response).path == "/connexion"
    response = web.post(login_url, {"email": platform_admin.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/journal?action=login.success"


# --- sign-out --------------------------------------------------------------------------------


def test_logout_ends_the_session(web, professional):
    web.login(professional)
    response = web.post("/deconnexion")
    assert response.status_code == 302
    assert location(response).path == "/connexion"
    assert session_user_id(web.client) is None
    assert not is_logged_in(web)
    assert "Vous êtes déconnecté." in html(web.get("/connexion"))


def test_logout_is_post_only(web, professional):
    web.login(professional)
    response = web.get("/deconnexion")
    assert response.status_code == 405
    assert "Méthode non permise" in html(response)
    assert is_logged_in(web)


def test_logout_requires_the_csrf_token(web, professional):
    web.login(professional)
    response = web.post("/deconnexion", csrf=False)
    assert response.status_code == 400
    assert is_logged_in(web)


# --- audit trail of sign-in ------------------------------------------------------------------


def test_login_logout_and_failures_are_audited(web, professional):
    first = AuditEvent.objects.count()  # the fixtures' own events
    web.login("nobody@example.org", "whatever-password")
    web.login(professional, "wrong-password-123")
    web.login(professional)
    web.logout()

    events = list(AuditEvent.objects(seq__gt=first).order_by("seq"))
    actions = [(e.action, e.details.get("reason")) for e in events]
    assert actions == [
        ("login.failure", "unknown_email"),
        ("login.failure", "wrong_password"),
        ("login.success", None),
        ("logout", None),
    ]
    unknown, wrong, success, logout = events
    assert unknown.actor == "system"
    assert unknown.details["email"] == "nobody@example.org"
    for event in (wrong, success, logout):
        assert event.actor == str(professional.id)
        assert event.actor_label == professional.email
        assert event.object_id == str(professional.id)
    assert all(e.origin.startswith("web ") for e in events)
    assert "whatever-password" not in str([e.to_mongo() for e in events])
    assert PASSWORD not in str([e.to_mongo() for e in events])


# --- CSRF ------------------------------------------------------------------------------------


def test_login_without_csrf_token_is_refused_and_writes_nothing(web, professional):
    before = snapshot()
    response = web.post(
        "/connexion", {"email": professional.email, "password": PASSWORD}, csrf=False
    )
    assert response.status_code == 400
    page = html(response)
    assert CSRF_MESSAGE in page
    assert '<html lang="fr">' in page
    assert session_user_id(web.client) is None
    assert snapshot() == before


def test_login_with_a_forged_csrf_token_is_refused(web, professional):
    before = snapshot()
    response = web.post(
        "/connexion",
        {"email": professional.email, "password": "wrong", "csrf_token": "forged"},
    )
    assert response.status_code == 400
    assert snapshot() == before


def test_csrf_token_of_another_session_is_refused(app, web, professional):
    other = type(web)(app.test_client())
    token = other.csrf()
    before = snapshot()
    response = web.post(
        "/connexion", {"email": professional.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 400
    assert snapshot() == before


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/profil", {"phone": "0102030405"}),
        (
            "/profil/mot-de-passe",
            {"current_password": PASSWORD, "new_password": "un-mot-de-passe-long"},
        ),
        ("/profil/jetons", {"name": "jeton"}),
        ("/structures/nouvelle", {"key": "pirate", "name": "P", "sector": "social", "kind": "dac"}),
        (
            "/structures/dac-test/modifier",
            {"name": "Nom piraté", "sector": "social", "kind": "dac"},
        ),
        ("/structures/dac-test/activation", {"active": "0"}),
        (
            "/structures/dac-test/membres",
            {
                "email": "new@example.org",
                "roles": "professional",
                "name": "Nouveau",
                "password": "un-mot-de-passe-long",
            },
        ),
        (
            "/admin/utilisateurs/nouveau",
            {"email": "new@example.org", "name": "Nouveau", "password": "un-mot-de-passe-long"},
        ),
        (
            "/admin/utilisateurs/{pro}",
            {"email": "pro@example.org", "name": "Nom piraté", "status": "suspended"},
        ),
        ("/structures/dac-test/membres/{pro}/roles", {"roles": "structure_admin"}),
        ("/structures/dac-test/membres/{pro}/retirer", {}),
    ],
)
def test_every_form_requires_the_csrf_token(login_as, platform_admin, professional, url, data):
    """Without its token a form is refused and writes nothing; with it, the same form works."""
    browser = login_as(platform_admin)
    url = url.format(pro=professional.id)
    before = snapshot()
    response = browser.post(url, data, csrf=False)
    assert response.status_code == 400
    assert CSRF_MESSAGE in html(response)
    assert snapshot() == before
    # The same request with its token goes through: the refusal was the missing token.
    response = browser.post(url, data)
    assert response.status_code in {200, 302}, html(response)
    assert "is-invalid" not in html(response)
    assert snapshot() != before


def test_token_revocation_requires_the_csrf_token(login_as, professional, api_as):
    from app.accounts.models import ApiToken

    api = api_as(professional)
    token = ApiToken.objects(user=professional.id).first()
    browser = login_as(professional)
    before = snapshot()
    response = browser.post(f"/profil/jetons/{token.id}/revoquer", csrf=False)
    assert response.status_code == 400
    assert snapshot() == before
    assert api.get("/me").status_code == 200


# --- rate limit ------------------------------------------------------------------------------


@pytest.fixture
def strict_app(app, app_config):
    """The same database, with a sign-in limit of 3 attempts a minute."""
    return create_app({**app_config, "LOGIN_RATE_LIMIT": "3 per minute"})


def test_login_is_rate_limited(strict_app, web, professional):
    Web = type(web)
    browser = Web(strict_app.test_client())
    for _ in range(3):
        assert browser.login(professional, "wrong-password-123").status_code == 401
    response = browser.login(professional)
    assert response.status_code == 429
    page = html(response)
    assert "Trop de tentatives. Réessayez dans une minute." in page
    assert '<html lang="fr">' in page
    assert session_user_id(browser.client) is None
    # The refused attempt was not even tried: no fourth failure, no success.
    assert AuditEvent.objects(action="login.failure").count() == 3
    assert AuditEvent.objects(action="login.success").count() == 0
    # Another address is not affected.
    other = Web(strict_app.test_client())
    response = other.post(
        "/connexion",
        {"email": professional.email, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert response.status_code == 302


def test_default_rate_limit_is_ten_a_minute(app, web, professional):
    assert app.config["LOGIN_RATE_LIMIT"] == "10 per minute"
    for _ in range(10):
        # Past five, the account is locked from this address: still 401, until the limit.
        assert web.login(professional, "wrong-password-123").status_code == 401
    assert web.login(professional).status_code == 429


def test_login_page_itself_is_not_rate_limited(strict_app, web):
    browser = type(web)(strict_app.test_client())
    for _ in range(6):
        assert browser.get("/connexion").status_code == 200


# --- sessions end when the account changes ---------------------------------------------------


def test_password_change_ends_other_sessions_but_keeps_this_one(login_as, professional):
    this, other = login_as(professional), login_as(professional)
    response = this.post(
        "/profil/mot-de-passe",
        {"current_password": PASSWORD, "new_password": "a-brand-new-password"},
    )
    assert response.status_code == 302
    page = this.get("/profil")
    assert page.status_code == 200
    assert "Vos autres sessions sont fermées." in html(page)
    response = other.get("/")
    assert response.status_code == 302
    assert location(response).path == "/connexion"
    professional.reload()
    assert session_user_id(this.client) == f"{professional.id}:{professional.session_nonce}"


def test_suspension_by_the_admin_ends_the_users_session(login_as, platform_admin, professional):
    user_browser = login_as(professional)
    admin = login_as(platform_admin)
    response = admin.post(
        f"/admin/utilisateurs/{professional.id}",
        {
            "email": professional.email,
            "name": professional.name,
            "profession": "60",
            "status": "suspended",
        },
    )
    assert response.status_code == 302, html(response)
    professional.reload()
    assert professional.status == "suspended"
    response = user_browser.get("/profil")
    assert response.status_code == 302
    assert location(response).path == "/connexion"
    # And they cannot come back.
    response = user_browser.login(professional)
    assert response.status_code == 401
    assert "suspendu" in html(response)


def test_password_reset_by_the_admin_ends_the_users_session(login_as, platform_admin, professional):
    user_browser = login_as(professional)
    admin = login_as(platform_admin)
    response = admin.post(
        f"/admin/utilisateurs/{professional.id}",
        {
            "email": professional.email,
            "name": professional.name,
            "status": "active",
            "password": "reset-by-the-admin",
        },
    )
    assert response.status_code == 302, html(response)
    assert not is_logged_in(user_browser)
    assert user_browser.login(professional).status_code == 401
    assert user_browser.login(professional, "reset-by-the-admin").status_code == 302


def test_a_session_cookie_of_a_suspended_user_is_useless_even_with_the_same_nonce(
    login_as, professional
):
    browser = login_as(professional)
    # Suspended behind the application's back: the nonce is unchanged.
    User.objects(id=professional.id).update_one(set__status="suspended")
    assert not is_logged_in(browser)


# --- pages and headers -----------------------------------------------------------------------


def test_not_found_page_is_french(web):
    response = web.get("/cette-page-n-existe-pas")
    assert response.status_code == 404
    page = html(response)
    assert '<html lang="fr">' in page
    assert "Page introuvable" in page
    assert "Cette page ou cette ressource n&#39;existe pas." in page


def test_not_found_page_is_french_when_logged_in(web, professional):
    web.login(professional)
    response = web.get("/structures/inconnue/membres")
    assert response.status_code == 404
    assert "Page introuvable" in html(response)


@pytest.mark.parametrize("url", ["/connexion", "/aide", "/mentions-legales", "/confidentialite"])
def test_public_pages_are_french(web, url):
    response = web.get(url)
    assert response.status_code == 200
    assert '<html lang="fr">' in html(response)


@pytest.mark.parametrize("url", ["/", "/profil", "/profil/jetons"])
def test_private_pages_are_french(web, professional, url):
    web.login(professional)
    response = web.get(url)
    assert response.status_code == 200
    assert '<html lang="fr">' in html(response)


@pytest.mark.parametrize("url", ["/connexion", "/cette-page-n-existe-pas", "/"])
def test_security_headers(web, url):
    response = web.get(url)
    csp = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "object-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp or response.headers.get("X-Frame-Options") in {
        "DENY",
        "SAMEORIGIN",
    }
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") == "same-origin"


def test_session_cookie_is_httponly_and_samesite_lax(web, professional):
    response = web.login(professional)
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies
    for cookie in cookies:
        attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
        assert "httponly" in attributes
        assert attributes["samesite"].strip().lower() == "samesite=lax"
        assert "secure" not in attributes  # plain http in tests


def test_session_cookie_is_secure_behind_https(app, app_config, professional):
    secure_app = create_app({**app_config, "BASE_URL": "https://parcours.example"})
    base = "https://parcours.example"
    client = secure_app.test_client()
    page = html(client.get("/connexion", base_url=base))
    response = client.post(
        "/connexion",
        data={
            "email": professional.email,
            "password": PASSWORD,
            "csrf_token": CSRF_RE.search(page).group(1),
        },
        base_url=base,
        headers={"Referer": f"{base}/connexion"},
    )
    assert response.status_code == 302, html(response)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if "session=" in c)
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Strict-Transport-Security" in response.headers
    # Plain http is sent to https.
    response = client.get("/connexion", base_url="http://parcours.example")
    assert response.status_code in {301, 302}
    assert response.headers["Location"].startswith("https://")


def test_signing_in_starts_a_new_session(web, professional):
    browser = web
    before = browser.csrf()
    assert browser.login(professional).status_code == 302
    browser._token = None
    assert browser.csrf() != before  # nothing of the anonymous session survives


def test_the_proxy_address_is_trusted_only_when_configured(app_config, professional):
    for hops, expected in ((0, "127.0.0.1"), (1, "203.0.113.7")):
        behind = create_app({**app_config, "TRUSTED_PROXIES": hops})
        client = behind.test_client()
        page = client.get("/connexion").get_data(as_text=True)
        token = CSRF_RE.search(page).group(1)
        client.post(
            "/connexion",
            data={"email": professional.email, "password": "faux", "csrf_token": token},
            headers={"X-Forwarded-For": "203.0.113.7"},
        )
        event = AuditEvent.objects(action="login.failure").order_by("-seq").first()
        assert event.origin == f"web {expected}"


def test_the_reset_form_is_rate_limited_and_sends_nothing_more(strict_app, web, professional):
    from app.notifications.models import OutgoingMail

    browser = type(web)(strict_app.test_client())
    for _ in range(3):
        sent = browser.post("/mot-de-passe-oublie", {"email": professional.email})
        assert sent.status_code == 200
    before = OutgoingMail.objects.count()
    refused = browser.post("/mot-de-passe-oublie", {"email": professional.email})
    assert refused.status_code == 429
    assert "Trop de tentatives" in html(refused)
    assert OutgoingMail.objects.count() == before


def test_the_second_factor_code_is_rate_limited(strict_app, web, professional):
    import pyotp

    User.objects(id=professional.id).update_one(set__totp_secret=pyotp.random_base32())
    browser = type(web)(strict_app.test_client())
    assert browser.login(professional).headers["Location"] == "/connexion/code"
    for _ in range(3):  # the code page has its own three a minute
        assert browser.post("/connexion/code", {"code": "000000"}).status_code == 401
    assert browser.post("/connexion/code", {"code": "000000"}).status_code == 429
