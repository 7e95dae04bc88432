"""Signing in safely: the second factor (TOTP, recovery codes) mandatory for admins, the end
of a session after inactivity, and "Changer de compte" on a shared device. Through the pages,
with real codes computed from the secret the page shows."""

import re
import time
from datetime import timedelta
from html import unescape

import pyotp
import pytest
from helpers import PASSWORD, html

from app.accounts.models import User
from app.audit import AuditEvent
from app.clock import travel
from app.sealing import unseal


def page(response):
    return unescape(html(response))


def code_of(secret, steps_ahead=0):
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def enrol(browser):
    """Set up the second factor from the profile: (secret, recovery codes)."""
    setup = page(browser.get("/profil/double-authentification"))
    secret = re.search(r'id="cle-totp">([A-Z2-7]+)<', setup).group(1)
    assert "<svg" in setup  # the QR code, inline
    done = browser.post("/profil/double-authentification", {"code": code_of(secret)})
    assert done.status_code == 200, page(done)
    codes = re.findall(r"<li>([0-9a-f]{10})</li>", page(done))
    assert len(codes) == 8
    return secret, codes


@pytest.fixture
def new_browser(app, web):
    """A fresh browser (the tests' Web class around a new test client)."""
    return lambda: type(web)(app.test_client())


def sign_in(new_browser, user, password=PASSWORD):
    """A new browser past the password: it is asked for the code."""
    browser = new_browser()
    asked = browser.login(user, password)
    assert asked.status_code == 302, page(asked)
    assert asked.headers["Location"] == "/connexion/code"
    return browser


def test_a_secret_stored_in_clear_before_sealing_still_works(new_browser, professional):
    secret = pyotp.random_base32()
    User.objects(id=professional.id).update_one(set__totp_secret=secret)  # an older account
    browser = sign_in(new_browser, professional)
    done = browser.post("/connexion/code", {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302
    assert browser.get("/").status_code == 200


def test_a_professional_turns_it_on_then_signs_in_with_a_code_once(
    login_as, new_browser, professional
):
    secret, _ = enrol(login_as(professional))
    stored = User.objects.get(id=professional.id).totp_secret
    assert secret not in stored  # sealed at rest, with a key derived from SECRET_KEY
    assert unseal(stored) == secret
    browser = sign_in(new_browser, professional)
    assert browser.get("/").status_code == 302  # not signed in until the code
    code = code_of(secret, 1)  # the next one: enrolling used the current one
    done = browser.post("/connexion/code", {"code": code})
    assert (done.status_code, done.headers["Location"]) == (302, "/")
    assert browser.get("/").status_code == 200
    # The same code cannot open a second session.
    again = sign_in(new_browser, professional)
    replay = again.post("/connexion/code", {"code": code})
    assert replay.status_code == 401
    assert "déjà servi" in page(replay)
    assert again.get("/").status_code == 302
    methods = AuditEvent.objects(action="login.second_factor").scalar("details")
    assert [d["method"] for d in methods] == ["totp"]


@pytest.mark.parametrize("bad", ["", "123", "abcdef", "9999999", "<script>", "0" * 500])
def test_a_wrong_code_is_refused_in_french(login_as, new_browser, professional, bad):
    secret, _ = enrol(login_as(professional))
    browser = sign_in(new_browser, professional)
    refused = browser.post("/connexion/code", {"code": bad})
    assert refused.status_code == 401
    assert "Ce code n'est pas le bon" in page(refused)
    assert "<script>" not in html(refused).split("<main", 1)[-1]
    assert browser.get("/").status_code == 302


def test_five_wrong_codes_send_back_to_the_password(login_as, new_browser, professional):
    secret, _ = enrol(login_as(professional))
    browser = sign_in(new_browser, professional)
    for _ in range(4):
        assert browser.post("/connexion/code", {"code": "000000"}).status_code == 401
    last = browser.post("/connexion/code", {"code": "000000"})
    assert last.headers["Location"] == "/connexion"
    # The right code now: too late, start again.
    late = browser.post("/connexion/code", {"code": code_of(secret, 1)})
    assert late.headers["Location"] == "/connexion"
    assert browser.get("/").status_code == 302


def test_the_code_must_follow_the_password_within_five_minutes(login_as, new_browser, professional):
    secret, _ = enrol(login_as(professional))
    browser = sign_in(new_browser, professional)
    with travel(timedelta(minutes=6)):
        late = browser.post("/connexion/code", {"code": code_of(secret, 1)})
    assert late.headers["Location"] == "/connexion"


def test_a_recovery_code_works_once(login_as, new_browser, professional):
    _, codes = enrol(login_as(professional))
    browser = sign_in(new_browser, professional)
    assert browser.post("/connexion/code", {"code": codes[0]}).status_code == 302
    assert browser.get("/").status_code == 200
    again = sign_in(new_browser, professional)
    assert again.post("/connexion/code", {"code": codes[0]}).status_code == 401
    assert len(User.objects.get(id=professional.id).recovery_codes) == 7


def test_a_wrong_setup_code_changes_nothing(login_as, professional):
    browser = login_as(professional)
    browser.get("/profil/double-authentification")
    refused = browser.post("/profil/double-authentification", {"code": "123456"})
    assert refused.status_code == 400
    assert "Ce code n'est pas le bon" in page(refused)
    assert User.objects.get(id=professional.id).totp_secret is None


def test_turning_it_off_asks_the_password(login_as, new_browser, professional):
    browser = login_as(professional)
    enrol(browser)
    wrong = browser.post("/profil/double-authentification", {"action": "disable",
                                                             "password": "pas le bon"})  # fmt: skip
    assert wrong.status_code == 400
    assert User.objects.get(id=professional.id).totp_secret
    off = browser.post("/profil/double-authentification", {"action": "disable",
                                                           "password": PASSWORD})  # fmt: skip
    assert off.status_code == 302
    signed = new_browser().post("/connexion", {"email": professional.email,
                                                        "password": PASSWORD})  # fmt: skip
    assert signed.headers["Location"] == "/"


@pytest.fixture
def required(app):
    app.config["ADMIN_TOTP_REQUIRED"] = True
    yield
    app.config["ADMIN_TOTP_REQUIRED"] = False


def test_admins_must_set_it_up_before_anything_and_cannot_turn_it_off(
    required, login_as, platform_admin, structure_admin, professional
):
    for admin in (platform_admin, structure_admin):
        browser = login_as(admin)
        sent = browser.get("/dossiers/")
        assert sent.headers["Location"] == "/profil/double-authentification"
        assert "obligatoire pour les administrateurs" in page(
            browser.get("/profil/double-authentification")
        )
        enrol(browser)
        assert browser.get("/dossiers/").status_code == 200
        off = {"action": "disable", "password": PASSWORD}
        refused = browser.post("/profil/double-authentification", off)
        assert refused.status_code == 400
        assert User.objects.get(id=admin.id).totp_secret
    # A professional is not asked.
    assert login_as(professional).get("/dossiers/").status_code == 200


# --- inactivity ---------------------------------------------------------------------------------


def test_a_session_ends_after_30_minutes_without_a_page(login_as, professional):
    browser = login_as(professional)
    with travel(timedelta(minutes=29)):
        assert browser.get("/taches").status_code == 200
    with travel(timedelta(minutes=29 + 31)):
        ended = browser.get("/taches")
        assert ended.status_code == 302
        assert ended.headers["Location"] == "/connexion?next=/taches"
        shown = page(browser.get("/connexion"))
        assert "Votre session a expiré après 30 minutes d'inactivité" in shown
        assert browser.get("/").status_code == 302  # signed out for good


def test_polls_do_not_keep_a_session_alive(login_as, professional, app):
    app.config["SESSION_IDLE_MINUTES"] = 10
    browser = login_as(professional)
    poll = "/messages/000000000000000000000000/suite"
    with travel(timedelta(minutes=6)):  # a poll of an open page: not activity
        browser.get(poll, headers={"HX-Request": "true"})
    with travel(timedelta(minutes=11)):
        ended = browser.get(poll, headers={"HX-Request": "true"})
        assert ended.headers["HX-Redirect"] == "/connexion"
        assert browser.get("/").status_code == 302


# --- changing account on a shared device -----------------------------------------------------


def switch(browser):
    response = browser.post("/changer-de-compte")
    browser._token = None  # a new session: a new CSRF token
    return response


def test_switching_account_on_a_shared_device(new_browser, professional, coordinator):
    browser = new_browser()
    browser.login(professional)
    switched = switch(browser)
    assert switched.headers["Location"] == "/connexion"
    assert browser.get("/").status_code == 302  # the first session is over
    offered = page(browser.get("/connexion"))
    assert professional.email in offered
    assert PASSWORD not in offered
    browser.login(coordinator)
    assert browser.get("/").status_code == 200
    switch(browser)
    listed = page(browser.get("/connexion"))
    assert listed.index(coordinator.email) < listed.index(professional.email)  # latest first
    prefilled = page(browser.get(f"/connexion?email={professional.email}"))
    assert f'value="{professional.email}"' in prefilled
    # Forget one: gone from this device's list.
    [forget] = re.findall(rf'action="(/connexion/oublier/{professional.id})"', listed)
    browser.post(forget)
    assert professional.email not in page(browser.get("/connexion"))


def test_a_forged_list_of_accounts_is_ignored(new_browser, professional):
    browser = new_browser()
    browser.client.set_cookie("parcours_comptes", "garbage.forged")
    assert browser.get("/connexion").status_code == 200
    assert 'id="comptes-appareil"' not in html(browser.get("/connexion"))
