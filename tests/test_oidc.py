"""Signing in with an OpenID Connect provider (plugins/oidc), against a real one: the npm
package oidc-provider, started on loopback by tests/oidc_provider/server.js. The test client
leaves for the provider, a `requests` session goes through its login and consent pages as a
browser would, and the test client comes back with the provider's real code; the plugin
exchanges it at the real token endpoint and checks the ID token against the real keys. The
faulty tokens are the provider's own answers, made faulty by its script (see server.js)."""

import base64
import contextlib
import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import time
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pyotp
import pytest
import requests
from helpers import html

from app import create_app
from app.accounts.models import User
from app.audit import AuditEvent
from app.directory.models import Professional, Site
from app.plugins import PluginError
from plugins.oidc.services import national_number

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
CLIENT_ID = "parcours-tests"
CLIENT_SECRET = "secret-jetable-des-tests-uniquement"  # the test provider's, nowhere else
BASE_URL = "http://localhost"  # the test client's host: the provider sends it back here
REDIRECT_URI = f"{BASE_URL}/connexion/oidc/retour"
SIGNED_OUT_URI = f"{BASE_URL}/connexion"  # where the provider sends the browser after its logout
RPPS = "10001234567"  # camille's SubjectNameID at the provider is "8" + this number
UNVERIFIED = "n'a pas pu être vérifiée"


# --- the provider ----------------------------------------------------------------------------


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _install():
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is missing: install Node.js 20+ and npm to run the OIDC tests.")
    # One installer at a time: the suite's workers (pytest-xdist) may all get here at once.
    with open(PROVIDER_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            return
        done = subprocess.run(
            [npm, "ci", "--prefix", str(PROVIDER_DIR), "--no-audit", "--no-fund"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    if done.returncode:
        pytest.fail(f"npm ci --prefix {PROVIDER_DIR} failed:\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def oidc_issuer(tmp_path_factory):
    """The issuer URL of a real OpenID provider running for the whole session."""
    _install()
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: install Node.js 20+ to run the OIDC tests.")
    port, log = _free_port(), tmp_path_factory.mktemp("oidc") / "provider.log"
    env = {**os.environ, "PORT": str(port), "REDIRECT_URI": REDIRECT_URI,
           "POST_LOGOUT_REDIRECT_URI": SIGNED_OUT_URI,
           "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET}  # fmt: skip
    with log.open("w") as output:
        process = subprocess.Popen([node, str(PROVIDER_DIR / "server.js")], env=env,
                                   stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
    issuer = f"http://127.0.0.1:{port}"
    try:
        _wait_for_discovery(issuer, process, log)
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_discovery(issuer, process, log):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"The test OpenID provider stopped:\n{log.read_text()}")
        try:
            found = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=1)
            if found.status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail(f"The test OpenID provider did not answer in 20 s:\n{log.read_text()}")


@pytest.fixture
def app_config(app_config, oidc_issuer):
    return {
        **app_config,
        "PLUGINS": "oidc",
        "BASE_URL": BASE_URL,
        "OIDC_ISSUER": oidc_issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_SCOPES": "openid profile email",
        "OIDC_ALLOW_INSECURE_HTTP": True,
    }


# --- a browser between Parcours and the provider ---------------------------------------------


def provider_answer(authorization_url, person, cancel=False, browser=None):
    """Go through the provider's pages as `person` (its login form, then its consent form;
    `cancel`: its "abort" button instead) and return the path and query the provider sends
    the browser back to, on Parcours. `browser`: a requests session that keeps the provider's
    cookies from one trip to the next; `person` None: the provider must not ask who it is."""
    with requests.Session() if browser is None else contextlib.nullcontext(browser) as browser:
        url, method, data = authorization_url, "GET", None
        for _ in range(12):
            response = browser.request(method, url, data=data, allow_redirects=False, timeout=10)
            if response.is_redirect:
                url, method, data = urljoin(url, response.headers["Location"]), "GET", None
                if url.startswith(REDIRECT_URI):
                    return url[len(BASE_URL) :]
                continue
            assert response.status_code == 200, response.text
            page = response.text
            chosen = "abort" if cancel else ("login" if 'id="login"' in page else "confirm")
            if chosen == "login" and person is None:
                raise ProviderAskedWho
            action = re.search(rf'<form id="{chosen}" method="post" action="([^"]+)"', page)
            url, method = urljoin(url, action.group(1)), "POST"
            data = {"login": person} if chosen == "login" else {}
    raise AssertionError("the provider never sent the browser back")


class ProviderAskedWho(AssertionError):
    """The provider showed its login form: it had no session for this browser."""


def provider_sign_out(end_session_url, browser):
    """Confirm the provider's logout page; return where it sends the browser after."""
    page = browser.get(end_session_url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    form = re.search(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', page.text, re.S)
    hidden = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(2)))
    confirm, data = urljoin(end_session_url, form.group(1)), {**hidden, "logout": "yes"}
    done = browser.post(confirm, data=data, allow_redirects=False, timeout=10)
    assert done.is_redirect, done.text
    return done.headers["Location"]


def leave(client, start="/connexion/oidc"):
    """Click the provider's button: Parcours sends the browser to the provider."""
    left = client.get(start)
    assert left.status_code == 302, html(left)
    return left.headers["Location"]


def sign_in_through_provider(client, person, start="/connexion/oidc", cancel=False):
    """The whole trip: Parcours, the provider's pages, Parcours' callback (its response)."""
    return client.get(provider_answer(leave(client, start), person, cancel))


def signed_in_id(client):
    with client.session_transaction() as session:
        return session.get("_user_id")


def text(response):
    return unescape(html(response))


def last_failure():
    return AuditEvent.objects(action="login.failure").first().details


@pytest.fixture
def camille(professional):
    """The account (Infirmière Pro) whose directory entry bears camille's RPPS number."""
    Professional(rpps=RPPS, id_type="rpps", last_name="Durand", first_name="Camille",
                 profession="60", user=professional.id).save()  # fmt: skip
    return professional


# --- signing in ------------------------------------------------------------------------------


def test_the_sign_in_page_offers_the_provider(client):
    page = text(client.get("/connexion"))
    assert "Se connecter avec Pro Santé Connect" in page
    assert 'href="/connexion/oidc' in page


def test_the_provider_is_asked_for_a_code_with_pkce_state_and_nonce(client, oidc_issuer):
    url = urlsplit(leave(client))
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}" == oidc_issuer
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["scope"] == "openid profile email"
    assert query["acr_values"] == "eidas1"  # the level Pro Santé Connect asks for
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43  # a SHA-256, base64url: not the verifier itself
    with client.session_transaction() as session:
        pending = session["oidc_pending"]
    assert (query["state"], query["nonce"]) == (pending["state"], pending["nonce"])
    assert pending["verifier"] not in url.query


def test_a_linked_professional_signs_in_as_after_a_password(client, camille):
    back = sign_in_through_provider(client, "camille", start="/connexion/oidc?next=/profil")
    assert (back.status_code, back.headers["Location"]) == (302, "/profil")
    camille.reload()
    assert signed_in_id(client) == f"{camille.id}:{camille.session_nonce}"
    assert camille.last_login_at is not None
    assert client.get_cookie("parcours_comptes") is not None  # offered again on this device
    profile = text(client.get("/profil"))
    assert "Bienvenue, Infirmière Pro." in profile
    event = AuditEvent.objects(action="login.success").first()
    assert (event.actor, event.details) == (str(camille.id), {"method": "oidc"})
    with client.session_transaction() as session:
        assert "oidc_pending" not in session  # state, nonce and verifier served once


def test_a_strong_provider_stands_for_the_second_factor_unless_told_otherwise(app, client, camille):
    User.objects(id=camille.id).update_one(set__totp_secret=pyotp.random_base32())
    back = sign_in_through_provider(client, "camille")
    assert back.headers["Location"] == "/"
    assert signed_in_id(client)
    app.config["OIDC_STRONG_AUTH"] = False
    other = app.test_client()
    asked = sign_in_through_provider(other, "camille")
    assert asked.headers["Location"] == "/connexion/code"
    assert signed_in_id(other) is None


@pytest.mark.parametrize(("status", "message"), [
    ("suspended", "Ce compte est suspendu."),
    ("requested", "Ce compte n'est pas encore activé."),
])  # fmt: skip
def test_an_inactive_account_is_refused_as_with_a_password(client, camille, status, message):
    User.objects(id=camille.id).update_one(set__status=status)
    refused = sign_in_through_provider(client, "camille")
    assert refused.status_code == 401
    assert message in text(refused)
    assert signed_in_id(client) is None
    assert last_failure() == {"reason": f"status_{status}", "method": "oidc"}


# --- signing out -----------------------------------------------------------------------------


def _token_claims(raw):
    payload = raw.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_signing_out_ends_the_provider_session_too(app, client, web, camille):
    with requests.Session() as browser:
        client.get(provider_answer(leave(client), "camille", browser=browser))
        assert signed_in_id(client)
        # The provider remembers the person: another sign-in in this browser asks nothing.
        again = app.test_client()
        again.get(provider_answer(leave(again), None, browser=browser))
        assert signed_in_id(again)

        out = web.logout()
        assert signed_in_id(client) is None
        url = urlsplit(out.headers["Location"])
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        assert url.path == "/session/end"  # the end_session_endpoint the provider publishes
        assert (query["client_id"], query["post_logout_redirect_uri"]) == (
            CLIENT_ID,
            SIGNED_OUT_URI,
        )
        hint = _token_claims(query["id_token_hint"])  # the ID token of this sign-in
        assert (hint["sub"], hint["aud"]) == ("camille", CLIENT_ID)
        assert provider_sign_out(out.headers["Location"], browser) == SIGNED_OUT_URI
        assert "Vous êtes déconnecté." in text(client.get("/connexion"))

        # The provider asks who signs in now: the shared computer is free for the next one.
        with pytest.raises(ProviderAskedWho):
            provider_answer(leave(app.test_client()), None, browser=browser)


def test_changing_account_ends_the_provider_session_too(client, web, camille):
    client.get(provider_answer(leave(client), "camille"))
    changed = web.post("/changer-de-compte")
    assert urlsplit(changed.headers["Location"]).path == "/session/end"
    assert signed_in_id(client) is None


def test_a_password_session_signs_out_here_only(login_as, camille):
    web = login_as(camille)
    out = web.logout()
    assert out.headers["Location"] == "/connexion"


def test_a_provider_unreachable_at_sign_out_still_signs_out(app, client, web, camille):
    client.get(provider_answer(leave(client), "camille"))
    app.config["OIDC_ISSUER"] = f"http://127.0.0.1:{_free_port()}"  # nobody answers there
    out = web.logout()
    assert out.headers["Location"] == "/connexion"
    assert signed_in_id(client) is None


# --- no account yet: the account request, prefilled ------------------------------------------


def test_a_directory_entry_without_account_gets_the_request_prefilled(client):
    site = Site(name="Cabinet infirmier du Port")
    Professional(rpps=RPPS, id_type="rpps", last_name="DURAND", first_name="Camille",
                 profession="60", sites=[site]).save()  # fmt: skip
    back = sign_in_through_provider(client, "camille")
    assert (back.status_code, back.headers["Location"]) == (302, "/demande-de-compte")
    assert signed_in_id(client) is None
    form = text(client.get("/demande-de-compte"))
    assert "Vous figurez dans l'annuaire de Parcours (numéro 10001234567), mais sans compte" in form
    for value in ("Durand", "Camille", RPPS, "camille.durand@example.org",
                  "Cabinet infirmier du Port"):  # fmt: skip
        assert f'value="{value}"' in form
    assert re.search(r'<option value="60"\s+selected', form)
    assert last_failure() == {"reason": "no_account", "method": "oidc", "rpps": RPPS}


def test_someone_outside_the_directory_gets_the_request_prefilled(client):
    back = sign_in_through_provider(client, "camille")
    assert back.headers["Location"] == "/demande-de-compte"
    form = text(client.get("/demande-de-compte"))
    assert "Aucun compte Parcours n'est rattaché au numéro 10001234567" in form
    assert 'value="Durand"' in form
    assert f'value="{RPPS}"' in form


def test_a_provider_without_the_rpps_claim_signs_nobody_in(client, camille):
    refused = sign_in_through_provider(client, "dominique")
    assert refused.status_code == 401
    assert "n'a pas transmis votre numéro RPPS ou ADELI" in text(refused)
    assert signed_in_id(client) is None
    assert last_failure() == {"reason": "no_number", "method": "oidc"}


# --- refusals ----------------------------------------------------------------------------------


def test_a_forged_state_is_refused(client, camille):
    authorization_url = leave(client)
    answer = provider_answer(authorization_url, "camille")
    forged = re.sub(r"state=[^&]+", "state=forge", answer)
    refused = client.get(forged)
    assert refused.status_code == 400
    assert "ne correspond à aucune connexion en cours" in text(refused)
    assert signed_in_id(client) is None
    assert last_failure()["reason"] == "state"
    # The real answer is no good afterwards either: the pending sign-in was used up.
    assert client.get(answer).status_code == 400
    assert signed_in_id(client) is None


def test_an_answer_naming_another_provider_is_refused(client, camille):
    answer = provider_answer(leave(client), "camille")
    assert re.search(r"[?&]iss=", answer)  # RFC 9207: the provider names itself
    refused = client.get(re.sub(r"([?&])iss=[^&]+", r"\1iss=https%3A%2F%2Fautre.example", answer))
    assert refused.status_code == 401
    assert signed_in_id(client) is None
    assert last_failure()["reason"] == "claim_iss"


def test_a_callback_without_a_sign_in_in_progress_is_refused(client, camille):
    refused = client.get("/connexion/oidc/retour?code=abc&state=def")
    assert refused.status_code == 400
    assert signed_in_id(client) is None


def test_a_replayed_callback_signs_nobody_in(app, client, camille):
    answer = provider_answer(leave(client), "camille")
    before = client.get_cookie("session").value  # the session holding state and verifier
    assert client.get(answer).status_code == 302
    # The same browser again: its state was used.
    assert client.get(answer).status_code == 400
    # Another browser with the session cookie as it was before: the state matches, but the
    # provider's code has been used, and the provider says so.
    thief = app.test_client()
    thief.set_cookie("session", before, domain="localhost")
    refused = thief.get(answer)
    assert refused.status_code == 401
    assert "n'a pas confirmé la connexion" in text(refused)
    assert signed_in_id(thief) is None
    assert last_failure() == {"reason": "token_invalid_grant", "method": "oidc"}


def test_the_person_cancelling_at_the_provider_is_told_so(client, camille):
    refused = sign_in_through_provider(client, "camille", cancel=True)
    assert refused.status_code == 401
    assert "a été annulée ou refusée" in text(refused)
    assert signed_in_id(client) is None
    assert last_failure()["reason"] == "provider_access_denied"


@pytest.mark.parametrize(("fault", "reason"), [
    ("foreign-key", "signature"),  # a key the provider does not publish, under its key's id
    ("unknown-key", "signature"),  # a key id it never published (the keys are read again)
    ("expired", "expired"),
    ("wrong-nonce", "claim_nonce"),
    ("other-audience", "claim_aud"),
    ("other-issuer", "claim_iss"),
])  # fmt: skip
def test_a_faulty_id_token_signs_nobody_in(client, camille, fault, reason):
    refused = sign_in_through_provider(client, f"camille~{fault}")
    assert refused.status_code == 401
    assert UNVERIFIED in text(refused)
    assert signed_in_id(client) is None
    assert last_failure() == {"reason": reason, "method": "oidc"}
    assert not AuditEvent.objects(action="login.success").count()


def test_an_unreachable_provider_is_said_so(app_config):
    closed = create_app({**app_config, "OIDC_ISSUER": f"http://127.0.0.1:{_free_port()}"})
    refused = closed.test_client().get("/connexion/oidc")
    assert refused.status_code == 502
    assert "Pro Santé Connect ne répond pas pour le moment" in text(refused)


# --- the RPPS claim and the settings -----------------------------------------------------------


@pytest.mark.parametrize(("claim", "number"), [
    ("810001234567", "10001234567"),  # Pro Santé Connect's idNat_PS: "8" + RPPS
    ("0751234567", "751234567"),  # "0" + ADELI
    ("10001234567", "10001234567"),
    ("751234567", "751234567"),
    (" 10001234567 ", "10001234567"),
    ("910001234567", None),
    ("3123456789/1234", None),  # a structure's staff: no personal number
    ("", None),
    (None, None),
    (10001234567, None),
])  # fmt: skip
def test_the_national_number_in_the_claim(claim, number):
    assert national_number(claim) == number


@pytest.mark.parametrize(("changes", "message"), [
    ({"OIDC_ISSUER": ""}, "réglage(s) manquant(s) : OIDC_ISSUER"),
    ({"OIDC_CLIENT_SECRET": ""}, "OIDC_CLIENT_SECRET"),
    ({"OIDC_ALLOW_INSECURE_HTTP": False}, "OIDC_ISSUER doit être une adresse https"),
])  # fmt: skip
def test_an_incomplete_configuration_stops_the_start_up(app_config, changes, message):
    with pytest.raises(PluginError, match=re.escape(message)) as stopped:
        create_app({**app_config, **changes})
    assert "Extension « oidc »" in str(stopped.value)
